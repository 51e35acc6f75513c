package dev.ferry.cli.lab;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Polls a {@link CounterLoop} file every 5 ms on a daemon thread and records when each new value
 * first appeared, so a caller can tell how long the counter stood still (the freeze as the
 * workload saw it) and whether it continued or restarted. Thread-safe; owns its polling thread,
 * which {@link #close()} stops.
 */
public final class CounterWatch implements AutoCloseable {

    /** One change of the counter: the new value and the {@link System#nanoTime()} it was first seen. */
    public record Sample(long value, long nanos) {
    }

    private final Path file;
    private final List<Sample> samples = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    private CounterWatch(Path file) {
        this.file = file;
        this.thread = new Thread(this::poll, "counter-watch-" + file.getFileName());
        this.thread.setDaemon(true);
    }

    public static CounterWatch start(Path file) {
        CounterWatch watch = new CounterWatch(file);
        watch.thread.start();
        return watch;
    }

    private void poll() {
        long last = Long.MIN_VALUE;
        while (running) {
            OptionalLong value = CounterLoop.read(file);
            long now = System.nanoTime();
            if (value.isPresent() && value.getAsLong() != last) {
                last = value.getAsLong();
                synchronized (samples) {
                    samples.add(new Sample(last, now));
                }
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    public List<Sample> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    /** The most recent sample. */
    public Optional<Sample> last() {
        synchronized (samples) {
            return samples.isEmpty() ? Optional.empty() : Optional.of(samples.get(samples.size() - 1));
        }
    }

    /** The first sample whose value is above {@code value}, seen after the first sample equal to {@code value}. */
    public Optional<Sample> firstAfter(long value) {
        synchronized (samples) {
            boolean seen = false;
            for (Sample s : samples) {
                if (s.value() == value) {
                    seen = true;
                } else if (seen) {
                    return Optional.of(s);
                }
            }
            return Optional.empty();
        }
    }

    /** The first sample with exactly {@code value}. */
    public Optional<Sample> first(long value) {
        synchronized (samples) {
            return samples.stream().filter(s -> s.value() == value).findFirst();
        }
    }

    /**
     * The longest time, in ms, between consecutive changes within [fromNanos, toNanos], counting the
     * stretch from the last change before {@code toNanos} up to {@code toNanos} too.
     */
    public long maxGapMillis(long fromNanos, long toNanos) {
        synchronized (samples) {
            long max = 0;
            long previous = Long.MIN_VALUE;
            for (Sample s : samples) {
                if (s.nanos() < fromNanos) {
                    previous = s.nanos();
                    continue;
                }
                if (s.nanos() > toNanos) {
                    break;
                }
                if (previous != Long.MIN_VALUE) {
                    max = Math.max(max, s.nanos() - Math.max(previous, fromNanos));
                }
                previous = s.nanos();
            }
            if (previous != Long.MIN_VALUE) {
                max = Math.max(max, toNanos - Math.max(previous, fromNanos));
            }
            return max / 1_000_000;
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
