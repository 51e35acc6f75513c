package dev.ferry.posix;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one of the host's tools ({@code ip}, {@code nft}, {@code iptables}, {@code arping}) to its end, stdin from
 * /dev/null, stdout and stderr together, with a timeout after which it is killed. Not for long-running processes.
 */
public final class HostCommand {

    /** What a finished command exited with and printed. */
    public record Outcome(List<String> argv, int exit, String output) {
        public boolean ok() {
            return exit == 0;
        }

        /** "`ip addr add ...` exited 2: RTNETLINK answers: File exists". */
        public String describe() {
            return "`" + String.join(" ", argv) + "` exited " + exit + (output.isBlank() ? "" : ": " + output.strip());
        }
    }

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private HostCommand() {
    }

    public static Outcome run(String... argv) throws IOException {
        return run(DEFAULT_TIMEOUT, argv);
    }

    public static Outcome run(Duration timeout, String... argv) throws IOException {
        Process p = new ProcessBuilder(argv)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output;
        try (InputStream in = p.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return new Outcome(List.of(argv), -1, output + " (killed after " + timeout.toMillis() + " ms)");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + argv[0], e);
        }
        return new Outcome(List.of(argv), p.exitValue(), output);
    }

    /** Starts a command and leaves it running; a daemon thread reaps it. For tools that linger (arping). */
    public static void spawn(String... argv) throws IOException {
        Process p = new ProcessBuilder(argv)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        Thread reaper = new Thread(() -> {
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        }, "reap-" + argv[0]);
        reaper.setDaemon(true);
        reaper.start();
    }
}
