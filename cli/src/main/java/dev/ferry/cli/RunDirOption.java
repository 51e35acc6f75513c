package dev.ferry.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --run-dir}: where a daemon keeps its control socket; clients find their daemon there. */
final class RunDirOption {

    static final String DEFAULT = "/run/ferry";

    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "Run dir with the daemon's control socket (default: $FERRY_RUN_DIR or " + DEFAULT + ").")
    Path runDir;

    Path resolve() {
        if (runDir != null) {
            return runDir.toAbsolutePath();
        }
        String env = System.getenv("FERRY_RUN_DIR");
        return Path.of(env == null || env.isBlank() ? DEFAULT : env).toAbsolutePath();
    }
}
