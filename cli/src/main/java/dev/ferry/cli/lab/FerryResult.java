package dev.ferry.cli.lab;

import java.util.List;

/**
 * The outcome of one {@code ferry} client command: exit code (-1 when it timed out and was killed),
 * its stdout and stderr, and how long it ran.
 */
public record FerryResult(List<String> command, int exitCode, String stdout, String stderr, long elapsedMillis,
        boolean timedOut) {

    public boolean ok() {
        return exitCode == 0 && !timedOut;
    }

    /** A multi-line description for failure messages. */
    public String describe() {
        return "command: " + String.join(" ", command) + "\n"
                + (timedOut ? "TIMED OUT after " + elapsedMillis + " ms (killed)\n"
                        : "exit code: " + exitCode + " after " + elapsedMillis + " ms\n")
                + "stdout:\n" + indent(stdout) + "stderr:\n" + indent(stderr);
    }

    private static String indent(String text) {
        if (text.isBlank()) {
            return "  (empty)\n";
        }
        StringBuilder sb = new StringBuilder();
        for (String line : text.split("\n")) {
            sb.append("  | ").append(line).append('\n');
        }
        return sb.toString();
    }
}
