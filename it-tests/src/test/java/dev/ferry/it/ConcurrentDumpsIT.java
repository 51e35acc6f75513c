package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.CounterLoop;
import dev.ferry.cli.lab.CounterWatch;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/** Two dumps through the same daemons at the same time, into two snapshots; both restore. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ConcurrentDumpsIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(16, LabExtension.Daemons.BOTH, false);

    @Test
    void twoConcurrentDumpsThroughSameDaemons_bothRestoreAndContinue() throws Exception {
        Path counterA = LAB.fx().path("a.counter");
        Path counterB = LAB.fx().path("b.counter");
        Workload a = LAB.fx().startWorkload(CounterLoop.command(counterA), LAB.fx().path("a.out.log"));
        Workload b = LAB.fx().startWorkload(CounterLoop.command(counterB), LAB.fx().path("b.out.log"));
        CounterLoop.awaitAtLeast(counterA, 5, Duration.ofSeconds(10));
        CounterLoop.awaitAtLeast(counterB, 5, Duration.ofSeconds(10));

        CounterWatch watchA = CounterWatch.start(counterA);
        CounterWatch watchB = CounterWatch.start(counterB);
        FerryRun dumpA = LAB.fx().startDump(a.pid(), "conc-a");
        FerryRun dumpB = LAB.fx().startDump(b.pid(), "conc-b");
        FerryResult resultA = dumpA.await(LabFixture.CLIENT_TIMEOUT);
        FerryResult resultB = dumpB.await(LabFixture.CLIENT_TIMEOUT);
        assertEquals(0, resultA.exitCode(), () -> "dump conc-a failed\n" + resultA.describe()
                + "\n(the other dump:)\n" + resultB.describe() + LAB.fx().diagnostics());
        assertEquals(0, resultB.exitCode(), () -> "dump conc-b failed\n" + resultB.describe()
                + "\n(the other dump:)\n" + resultA.describe() + LAB.fx().diagnostics());
        assertTrue(ProcFs.awaitGone(a.pid(), 5_000), "source a still runs after its dump");
        assertTrue(ProcFs.awaitGone(b.pid(), 5_000), "source b still runs after its dump");
        long atDumpA = settled(counterA);
        long atDumpB = settled(counterB);

        long restoredA = restore("conc-a", LAB.fx().path("a.pid"));
        long restoredB = restore("conc-b", LAB.fx().path("b.pid"));
        assertNotEquals(restoredA, restoredB);

        long afterA = CounterLoop.awaitAtLeast(counterA, atDumpA + 5, Duration.ofSeconds(15));
        long afterB = CounterLoop.awaitAtLeast(counterB, atDumpB + 5, Duration.ofSeconds(15));
        assertContinued("a", watchA, atDumpA);
        assertContinued("b", watchB, atDumpB);
        watchA.close();
        watchB.close();
        assertTrue(ProcFs.isRunning(restoredA) && ProcFs.isRunning(restoredB), "a restored workload died");
        assertTrue(LAB.fx().imageFiles().isEmpty(), "checkpoint images were written to disk");
        System.out.printf("ConcurrentDumpsIT: a %d -> %d, b %d -> %d (dumps %d ms and %d ms)%n", atDumpA, afterA,
                atDumpB, afterB, resultA.elapsedMillis(), resultB.elapsedMillis());
    }

    /** The first value after the dump must be the next one (at most one more), not a restart from 1. */
    private static void assertContinued(String which, CounterWatch watch, long atDump) {
        Optional<CounterWatch.Sample> resumed = watch.firstAfter(atDump);
        assertTrue(resumed.isPresent() && resumed.get().value() > atDump && resumed.get().value() <= atDump + 2,
                () -> "counter " + which + " did not continue from " + atDump + " (restarted?): first value after it "
                        + resumed.map(s -> Long.toString(s.value())).orElse("none"));
    }

    private static long settled(Path counter) throws InterruptedException {
        OptionalLong value = CounterLoop.awaitSettled(counter, Duration.ofMillis(400), Duration.ofSeconds(5));
        assertTrue(value.isPresent(), "counter " + counter + " kept changing after its dump");
        return value.getAsLong();
    }

    private static long restore(String snapshot, Path pidfile) throws Exception {
        FerryResult restore = LAB.fx().restore(snapshot, pidfile);
        assertEquals(0, restore.exitCode(), () -> "restore " + snapshot + " failed\n" + restore.describe()
                + LAB.fx().diagnostics());
        long pid = LAB.fx().restoredPid(pidfile);
        assertTrue(LAB.fx().lab().processInNode(pid, LAB.fx().lab().targetNs()),
                "restored " + snapshot + " (pid " + pid + ") is not in the target netns");
        return pid;
    }
}
