package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.CounterLoop;
import dev.ferry.cli.lab.CounterWatch;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/** A looping shell moves from the source node to the target node and carries on counting. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LoopingShellIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(11, LabExtension.Daemons.BOTH, false);

    @Test
    void loopingShellDumpedThroughProxyContinuesOnTarget_noImageOnDisk() throws Exception {
        Path counter = LAB.fx().path("loop.counter");
        Workload source = LAB.fx().startWorkload(CounterLoop.command(counter), LAB.fx().path("loop.out.log"));
        try (CounterWatch watch = CounterWatch.start(counter)) {
            long before = CounterLoop.awaitAtLeast(counter, 5, Duration.ofSeconds(10));

            FerryResult dump = LAB.fx().dump(source.pid(), "loop");
            assertEquals(0, dump.exitCode(), () -> "ferry dump failed\n" + dump.describe() + LAB.fx().diagnostics());

            assertTrue(ProcFs.awaitGone(source.pid(), 5_000),
                    () -> "source pid " + source.pid() + " still runs after a successful dump" + LAB.fx().diagnostics());
            OptionalLong settled = CounterLoop.awaitSettled(counter, Duration.ofMillis(400), Duration.ofSeconds(5));
            assertTrue(settled.isPresent(), "the counter kept changing after the dump: the source was not stopped");
            long atDump = settled.getAsLong();
            assertTrue(atDump >= before, "counter went backwards before the restore: " + before + " -> " + atDump);

            Path pidfile = LAB.fx().path("loop.pid");
            FerryResult restore = LAB.fx().restore("loop", pidfile);
            assertEquals(0, restore.exitCode(), () -> "ferry restore failed\n" + restore.describe() + LAB.fx().diagnostics());
            long restored = LAB.fx().restoredPid(pidfile);

            assertTrue(LAB.fx().lab().processInNode(restored, LAB.fx().lab().targetNs()),
                    () -> "restored pid " + restored + " is not in the target netns " + LAB.fx().lab().targetNs());
            assertFalse(LAB.fx().lab().processInNode(restored, LAB.fx().lab().sourceNs()), "restored pid is in the source netns");

            long after = CounterLoop.awaitAtLeast(counter, atDump + 5, Duration.ofSeconds(15));
            Optional<CounterWatch.Sample> resumed = watch.firstAfter(atDump);
            assertTrue(resumed.isPresent() && resumed.get().value() > atDump && resumed.get().value() <= atDump + 2,
                    () -> "counter did not continue from " + atDump + " (restarted?): values after the dump "
                            + watch.samples().stream().filter(s -> s.value() <= 3 || s.value() > atDump)
                                    .limit(10).map(CounterWatch.Sample::value).toList());
            assertTrue(after > atDump);
            assertTrue(ProcFs.isRunning(restored), "restored process died");

            List<Path> images = LAB.fx().imageFiles();
            assertTrue(images.isEmpty(), () -> "checkpoint images were written to disk: " + images);
            System.out.printf("LoopingShellIT: counter %d at dump, %d first after restore, %d later%n", atDump,
                    resumed.get().value(), after);
        }
    }
}
