package dev.ferry.criu;

import java.io.IOException;
import java.time.Duration;

/**
 * {@code criu check} for preflights that come many at once: a passing check stands for {@code validFor}, so sixteen
 * migrations arriving together run CRIU once, not sixteen times (on the image-cache that runs on a receiving event
 * loop). A failing check is never kept: the next preflight runs CRIU again. Thread-safe; one per daemon side.
 */
public final class RecentCheck {

    private final Criu criu;
    private final long validForNanos;
    private volatile long passedAtNanos;
    private volatile boolean passed;

    public RecentCheck(Criu criu, Duration validFor) {
        this.criu = criu;
        this.validForNanos = validFor.toNanos();
    }

    /** A passing result less than {@code validFor} old, else what a fresh {@link Criu#check()} says. */
    public Criu.CheckResult check() throws IOException {
        if (passed && System.nanoTime() - passedAtNanos < validForNanos) {
            return new Criu.CheckResult(true, "passed within the last " + validForNanos / 1_000_000_000 + " s");
        }
        Criu.CheckResult result = criu.check();
        passed = false;
        if (result.ok()) {
            passedAtNanos = System.nanoTime();
            passed = true;
        }
        return result;
    }
}
