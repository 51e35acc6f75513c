package dev.ferry.criu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Picks the lines of a CRIU log ({@code -o dump.log}) that explain a failure. */
public final class CriuLog {

    private static final int TAIL_LINES = 5;
    /** Lines CRIU logs as errors or warnings on healthy runs (see criu-field-notes.md). */
    private static final List<String> HARMLESS = List.of(
            "rlimit: Can't setup RLIMIT_NOFILE",
            "Can't keep kdat cache on non-tempfs",
            "Bad rule (does a matching rule exist",
            "Could not process rule: No such file or directory");
    /** Logged when a restore "unlocks" the network in a netns where the dump's rules never existed. */
    private static final String RESTORE_UNLOCK_NOISE = "Iptables configuration failed";

    private CriuLog() {
    }

    /**
     * The failing lines: those with {@code Error (}, {@code Warn} or {@code BUG}, minus known harmless ones; if
     * more than {@code maxLines}, warnings go first; if none match, the last few lines. Empty if the log is
     * missing or unreadable.
     */
    public static List<String> excerpt(Path log, int maxLines) {
        List<String> lines;
        try {
            lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1); // CRIU logs bytes, not always UTF-8
        } catch (IOException e) {
            return List.of();
        }
        boolean restoreLog = log.getFileName() != null && log.getFileName().toString().startsWith("restore");
        List<String> errors = new ArrayList<>();
        List<String> matched = new ArrayList<>();
        for (String line : lines) {
            boolean error = line.contains("Error (") || line.contains("BUG");
            if (!error && !line.contains("Warn")) {
                continue;
            }
            if (isHarmless(line, restoreLog)) {
                continue;
            }
            matched.add(line);
            if (error) {
                errors.add(line);
            }
        }
        if (matched.isEmpty()) {
            int tail = Math.min(TAIL_LINES, maxLines);
            return List.copyOf(lines.subList(Math.max(0, lines.size() - tail), lines.size()));
        }
        List<String> chosen = matched.size() <= maxLines ? matched : errors;
        return List.copyOf(chosen.subList(0, Math.min(maxLines, chosen.size())));
    }

    /**
     * The time since CRIU's start at which the first line containing {@code needle} was logged, read from the line's
     * {@code (SS.UUUUUU)} stamp; e.g. {@code "Seized task"} marks the moment the dump froze its first task.
     */
    public static java.util.Optional<java.time.Duration> offsetOf(Path log, String needle) {
        try (java.io.BufferedReader r = Files.newBufferedReader(log, StandardCharsets.ISO_8859_1)) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.startsWith("(") && line.contains(needle)) {
                    int close = line.indexOf(')');
                    double seconds = Double.parseDouble(line.substring(1, close).trim());
                    return java.util.Optional.of(java.time.Duration.ofNanos((long) (seconds * 1e9)));
                }
            }
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.empty();
    }

    private static boolean isHarmless(String line, boolean restoreLog) {
        for (String harmless : HARMLESS) {
            if (line.contains(harmless)) {
                return true;
            }
        }
        return restoreLog && line.contains(RESTORE_UNLOCK_NOISE);
    }
}
