package dev.ferry.cli;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuNotFoundException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --criu PATH}, and the search order behind it: option, $FERRY_CRIU, the project's .criu/, $PATH. */
final class CriuOption {

    @Option(names = "--criu", paramLabel = "PATH", description = "CRIU binary (default: $FERRY_CRIU, <repo>/.criu/bin/criu, then $PATH).")
    Path criu;

    Criu locate() throws CriuNotFoundException {
        return Criu.locate(criu, System.getenv(), projectRoot());
    }

    /** The repository the running jar was built in ({@code cli/target/ferry.jar} → ../..), or $FERRY_REPO. */
    static Path projectRoot() {
        String env = System.getenv("FERRY_REPO");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        try {
            Path jar = Path.of(CriuOption.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path root = jar.getParent() == null ? null : jar.getParent().getParent();
            root = root == null ? null : root.getParent();
            if (root != null && Files.isDirectory(root.resolve("scripts"))) {
                return root;
            }
        } catch (Exception ignored) {
            // fall through
        }
        return Path.of(".").toAbsolutePath();
    }
}
