package dev.ferry.cli.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeoutException;

/**
 * The counter workload: a shell loop that writes an increasing counter to a file every 100 ms,
 * reopening the file each time (so no file stays open across a dump). Reading the file after a
 * restore shows whether the process continued (the value keeps growing from where it was) or
 * restarted (it starts again at 1).
 */
public final class CounterLoop {

    /** The loop's period. */
    public static final Duration PERIOD = Duration.ofMillis(100);

    private CounterLoop() {
    }

    /** {@code /bin/sh -c 'i=0; while :; do i=$((i+1)); echo $i > FILE; sleep 0.1; done'}. */
    public static List<String> command(Path file) {
        String path = file.toAbsolutePath().toString();
        if (path.contains("'")) {
            throw new IllegalArgumentException("counter file path must not contain a quote: " + path);
        }
        return List.of("/bin/sh", "-c",
                "i=0; while :; do i=$((i+1)); echo $i > '" + path + "'; sleep 0.1; done");
    }

    /** The counter's current value, or empty when the file is missing or caught mid-write. */
    public static OptionalLong read(Path file) {
        try {
            String text = Files.readString(file).trim();
            return text.isEmpty() ? OptionalLong.empty() : OptionalLong.of(Long.parseLong(text));
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /** Waits until the counter is at least {@code min} and returns the value seen. */
    public static long awaitAtLeast(Path file, long min, Duration timeout)
            throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        OptionalLong last = OptionalLong.empty();
        while (System.nanoTime() < deadline) {
            OptionalLong value = read(file);
            if (value.isPresent()) {
                last = value;
                if (value.getAsLong() >= min) {
                    return value.getAsLong();
                }
            }
            Thread.sleep(10);
        }
        throw new TimeoutException("counter " + file + " did not reach " + min + " within " + timeout.toMillis()
                + " ms (last value: " + (last.isPresent() ? last.getAsLong() : "none") + ")");
    }

    /**
     * Reads the counter until the file stays unchanged for {@code quiet} (the writer is gone or frozen) and returns the
     * last value it held; empty if it still changes after {@code timeout}. A writer stopped between the shell's
     * truncation and its write leaves the file empty for good: that is settled too, on the value before (the restored
     * writer then writes the next one).
     */
    public static OptionalLong awaitSettled(Path file, Duration quiet, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = raw(file);
        OptionalLong value = read(file);
        long since = System.nanoTime();
        while (System.nanoTime() < deadline) {
            Thread.sleep(10);
            String now = raw(file);
            OptionalLong parsed = read(file);
            if (parsed.isPresent()) {
                value = parsed;
            }
            if (!java.util.Objects.equals(now, last)) {
                last = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= quiet.toNanos() && value.isPresent()) {
                return value;
            }
        }
        return OptionalLong.empty();
    }

    private static String raw(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return null;
        }
    }
}
