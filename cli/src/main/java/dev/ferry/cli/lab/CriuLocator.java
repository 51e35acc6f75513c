package dev.ferry.cli.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the CRIU binary the lab hands to the daemons: {@code $FERRY_CRIU}, then
 * {@code <repo>/.criu/bin/criu} (where {@code scripts/install-criu} puts it), then {@code criu} on
 * the PATH; and reads its version.
 */
public final class CriuLocator {

    /** The oldest CRIU that can dump inet sockets on Linux >= 6.16 (field notes §0). */
    public static final int[] MINIMUM = {4, 2};

    private static final Pattern VERSION = Pattern.compile("Version:\\s*(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    private CriuLocator() {
    }

    /** The first executable candidate, or empty. {@code repo} may be null. */
    public static Optional<Path> find(Path repo) {
        String env = System.getenv("FERRY_CRIU");
        if (env != null && !env.isBlank() && Files.isExecutable(Path.of(env))) {
            return Optional.of(Path.of(env).toAbsolutePath());
        }
        if (repo != null) {
            Path installed = repo.resolve(".criu/bin/criu");
            if (Files.isExecutable(installed)) {
                return Optional.of(installed.toAbsolutePath().normalize());
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path candidate = Path.of(dir, "criu");
                if (Files.isExecutable(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }

    /** {@code criu --version}'s version as {major, minor, patch}, or empty if it cannot be read. */
    public static Optional<int[]> version(Path criu) {
        try {
            HostCommand.Result result = HostCommand.exec(Duration.ofSeconds(10), List.of(criu.toString(), "--version"));
            Matcher m = VERSION.matcher(result.output());
            if (!m.find()) {
                return Optional.empty();
            }
            return Optional.of(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    m.group(3) == null ? 0 : Integer.parseInt(m.group(3))});
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** True when {@code version} is at least {@link #MINIMUM}. */
    public static boolean isSupported(int[] version) {
        return version[0] > MINIMUM[0] || (version[0] == MINIMUM[0] && version[1] >= MINIMUM[1]);
    }

    public static String format(int[] version) {
        return version[0] + "." + version[1] + "." + version[2];
    }
}
