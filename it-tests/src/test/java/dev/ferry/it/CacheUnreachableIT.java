package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.CounterLoop;
import dev.ferry.cli.lab.CounterWatch;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * Nothing listens at the cache's address: {@code ferry dump} fails fast with exit 6 and the source
 * is never frozen for long.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CacheUnreachableIT {

    /** Generous for "fast": two JVM starts (client) plus a refused connection. */
    private static final long FAST_MS = 10_000;
    /** Longest the counter may stand still during the failed dump (its own period is 100 ms). */
    private static final long MAX_STILL_MS = 1_000;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(15, LabExtension.Daemons.PROXY_ONLY, false);

    @Test
    void noCacheListening_dumpFailsFastWithExit6_sourceKeepsRunning() throws Exception {
        Path counter = LAB.fx().path("unreach.counter");
        Workload source = LAB.fx().startWorkload(CounterLoop.command(counter), LAB.fx().path("unreach.out.log"));
        try (CounterWatch watch = CounterWatch.start(counter)) {
            CounterLoop.awaitAtLeast(counter, 5, Duration.ofSeconds(10));

            long start = System.nanoTime();
            FerryResult dump = LAB.fx().dump(source.pid(), "unreach");
            long end = System.nanoTime();
            long valueAtFailure = CounterLoop.read(counter).orElse(-1);

            assertFalse(dump.timedOut(), () -> "ferry dump hung with no cache listening\n" + dump.describe()
                    + LAB.fx().diagnostics());
            assertEquals(6, dump.exitCode(), () -> "ferry dump should fail with exit 6 (image-cache unreachable)\n"
                    + dump.describe() + LAB.fx().diagnostics());
            assertFalse(dump.stderr().isBlank(), "ferry dump failed without a message on stderr");
            assertTrue(dump.elapsedMillis() < FAST_MS, () -> "ferry dump took " + dump.elapsedMillis()
                    + " ms to fail (expected: < " + FAST_MS + " ms)\n" + dump.describe());

            assertTrue(source.isRunning(), () -> "source process gone after a failed dump" + LAB.fx().diagnostics());
            long advanced = CounterLoop.awaitAtLeast(counter, valueAtFailure + 1, Duration.ofSeconds(1));
            long stillMs = watch.maxGapMillis(start, end);
            assertTrue(stillMs < MAX_STILL_MS, () -> "the counter stood still for " + stillMs
                    + " ms during the failed dump (expected: < " + MAX_STILL_MS + " ms): the source was frozen");
            assertTrue(LAB.fx().daemons().proxyAlive(), () -> "image-proxy died" + LAB.fx().diagnostics());
            System.out.printf("CacheUnreachableIT: exit %d after %d ms, counter %d -> %d, longest stand-still %d ms: "
                    + "%s%n", dump.exitCode(), dump.elapsedMillis(), valueAtFailure, advanced, stillMs,
                    dump.stderr().strip());
        }
    }
}
