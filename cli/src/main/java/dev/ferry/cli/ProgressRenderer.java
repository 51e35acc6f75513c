package dev.ferry.cli;

import dev.ferry.protocol.control.Progress;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Shows the progress events a daemon sends over the control socket (dump, restore, and any later long command
 * such as migrate): phase, bytes, rate, images and, when the daemon knows what the whole should weigh
 * ({@code expected_bytes}), a bar and an ETA. On a terminal it redraws one line with {@code \r}; otherwise it
 * prints a plain line at each phase change and at most every {@link #PLAIN_EVERY_NANOS} while bytes move. It also
 * times the phases, for {@code --json}. Used from the thread that reads the control socket; not thread-safe.
 */
final class ProgressRenderer implements Consumer<Progress> {

    /** How progress is shown. */
    enum Mode {
        /** One line redrawn in place ({@code \r}). */
        TTY,
        /** A line per phase change and every few seconds. */
        PLAIN,
        /** Nothing shown; phases still timed. */
        QUIET;

        /**
         * From {@code FERRY_PROGRESS} (tty, plain, none) if set, else TTY when stderr is a terminal (its fd 2 is a
         * tty or pts device, or the JVM has a console), else PLAIN.
         */
        static Mode detect() {
            String env = System.getenv("FERRY_PROGRESS");
            if (env != null && !env.isBlank()) {
                switch (env.trim().toLowerCase(Locale.ROOT)) {
                    case "tty" -> {
                        return TTY;
                    }
                    case "plain" -> {
                        return PLAIN;
                    }
                    case "none", "quiet" -> {
                        return QUIET;
                    }
                    default -> { }
                }
            }
            try {
                String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
                return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") ? TTY : PLAIN;
            } catch (Exception e) {
                return System.console() != null ? TTY : PLAIN;
            }
        }
    }

    /** One phase and how long it lasted. */
    record Phase(String name, long millis) {
    }

    static final long PLAIN_EVERY_NANOS = 5_000_000_000L;
    /** Phases after every image was sent: the size is then known exactly and the rate no longer moves. */
    private static final java.util.Set<String> SENT_PHASES = java.util.Set.of("commit", "committed", "restore",
            "restored", "handover");
    private static final int BAR_WIDTH = 24;
    /** No ETA before this much has moved: the first few bytes (CRIU's small images) say nothing of the rate. */
    private static final long ETA_AFTER_BYTES = 1 << 20;

    private final PrintWriter err;
    private final String command;
    private final Mode mode;
    private final LongSupplier clock;
    private final long startedNanos;
    private final List<Phase> phases = new ArrayList<>();
    private String phase;
    private long phaseStartNanos;
    private long firstBytesNanos = -1;
    private long lastIdleNanos;
    private long bytes;
    private int images;
    private long expected;
    /** When the last image was sent (the first {@link #SENT_PHASES} phase), or -1. */
    private long sentNanos = -1;
    private int drawnWidth;
    private long lastPlainNanos;

    ProgressRenderer(PrintWriter err, String command, Mode mode) {
        this(err, command, mode, System::nanoTime);
    }

    /** @param clock nanoseconds, like {@link System#nanoTime()} (tests pass their own) */
    ProgressRenderer(PrintWriter err, String command, Mode mode, LongSupplier clock) {
        this.err = err;
        this.command = command;
        this.mode = mode;
        this.clock = clock;
        this.startedNanos = clock.getAsLong();
        this.phaseStartNanos = startedNanos;
        this.lastIdleNanos = startedNanos;
    }

    @Override
    public void accept(Progress p) {
        long now = clock.getAsLong();
        boolean newPhase = !p.getPhase().isEmpty() && !p.getPhase().equals(phase);
        if (newPhase) {
            endPhase(now);
            phase = p.getPhase();
            phaseStartNanos = now;
            if (sentNanos < 0 && SENT_PHASES.contains(phase)) {
                sentNanos = now;
            }
        }
        if (p.getBytes() <= 0) {
            lastIdleNanos = now;
        } else if (firstBytesNanos < 0) {
            firstBytesNanos = lastIdleNanos; // the bytes began to move after the last event that had none
        }
        bytes = Math.max(bytes, p.getBytes());
        images = Math.max(images, p.getImages());
        if (p.getExpectedBytes() > 0) {
            expected = p.getExpectedBytes();
        }
        switch (mode) {
            case TTY -> draw(line(now, p.getMessage()));
            case PLAIN -> {
                if (newPhase || !p.getMessage().isEmpty() || now - lastPlainNanos >= PLAIN_EVERY_NANOS) {
                    lastPlainNanos = now;
                    err.println(line(now, p.getMessage()));
                    err.flush();
                }
            }
            case QUIET -> { }
        }
    }

    private void endPhase(long now) {
        if (phase != null) {
            phases.add(new Phase(phase, (now - phaseStartNanos) / 1_000_000));
        }
    }

    /**
     * Prints {@code line} on a line of its own, whatever the mode (even QUIET): words the user must act on, not
     * progress. On a terminal the progress line is ended first and drawn again below with the next event.
     */
    void note(String line) {
        if (mode == Mode.TTY && drawnWidth > 0) {
            err.println();
            drawnWidth = 0;
        }
        err.println(line);
        err.flush();
    }

    /** Ends the last phase and, on a terminal, the progress line; call once the result has arrived. */
    void finish() {
        long now = clock.getAsLong();
        endPhase(now);
        phase = null;
        if (mode == Mode.TTY && drawnWidth > 0) {
            err.println();
            err.flush();
            drawnWidth = 0;
        }
    }

    /** The phases seen, in order, with their durations (the last one once {@link #finish()} ran). */
    List<Phase> phases() {
        return List.copyOf(phases);
    }

    /** The phases as JSON objects {@code {"phase": NAME, "duration_ms": N}}. */
    List<Map<String, Object>> phasesJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Phase ph : phases) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("phase", ph.name());
            m.put("duration_ms", ph.millis());
            out.add(m);
        }
        return out;
    }

    private void draw(String line) {
        StringBuilder b = new StringBuilder("\r").append(line);
        for (int i = line.length(); i < drawnWidth; i++) {
            b.append(' ');
        }
        drawnWidth = Math.max(drawnWidth, line.length());
        err.print(b);
        err.flush();
    }

    /** The progress line: phase, bar and percentage (if the size is known), bytes, rate, images, ETA, message. */
    String line(long now, String message) {
        StringBuilder b = new StringBuilder(command).append(": ").append(phase == null ? "" : phase);
        double rate = rate(now);
        if (sentNanos >= 0 && bytes > 0) {
            // everything is sent: the estimate (from the source's memory) no longer matters
            b.append(" [").append("#".repeat(BAR_WIDTH)).append("] 100% ").append(Bytes.human(bytes));
        } else if (expected > 0 && bytes > 0) {
            double fraction = Math.min(1.0, (double) bytes / expected);
            int filled = (int) Math.round(fraction * BAR_WIDTH);
            b.append(" [").append("#".repeat(filled)).append("-".repeat(BAR_WIDTH - filled)).append("] ")
                    .append(String.format(Locale.ROOT, "%3d%%", Math.round(fraction * 100)));
            b.append(' ').append(Bytes.human(bytes)).append(" of ~").append(Bytes.human(expected));
        } else if (bytes > 0) {
            b.append(' ').append(Bytes.human(bytes));
        }
        if (rate > 0) {
            b.append(", ").append(Bytes.human((long) rate)).append("/s");
        }
        if (images > 0) {
            b.append(", ").append(images).append(images == 1 ? " image" : " images");
        }
        if (rate > 0 && expected > bytes && sentNanos < 0 && bytes >= ETA_AFTER_BYTES) {
            b.append(", ETA ").append(duration((long) ((expected - bytes) / rate)));
        }
        if (message != null && !message.isEmpty()) {
            b.append(" — ").append(message);
        }
        return b.toString();
    }

    /** Bytes per second since the first bytes moved; 0 until some did. */
    private double rate(long now) {
        if (firstBytesNanos < 0 || bytes <= 0) {
            return 0;
        }
        long end = sentNanos >= 0 ? Math.min(now, sentNanos) : now;
        long nanos = Math.max(end - firstBytesNanos, 1_000_000);
        return bytes * 1e9 / nanos;
    }

    static String duration(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return seconds / 60 + "m" + String.format(Locale.ROOT, "%02d", seconds % 60) + "s";
        }
        return seconds / 3600 + "h" + String.format(Locale.ROOT, "%02d", seconds % 3600 / 60) + "m";
    }
}
