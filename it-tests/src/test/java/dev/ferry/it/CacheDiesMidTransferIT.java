package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * The image-cache is SIGKILLed while a 1 GiB snapshot streams to it: the dump fails with exit 6
 * and the source process carries on with its memory intact (invariant 1: never killed before its
 * snapshot is verified on the target).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class CacheDiesMidTransferIT {

    private static final int SIZE_MIB = 1024;
    /** How much the cache's resident memory must have grown (images arriving) before it is killed. */
    private static final long MOVING_BYTES = 64L << 20;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(14, LabExtension.Daemons.BOTH, true);

    @Test
    void cacheKilledMidTransfer_dumpFailsWithExit6_sourceKeepsRunningWithSameMemory() throws Exception {
        Path script = LAB.fx().script("memhold.py");
        ChecksumLog sums = new ChecksumLog(LAB.fx().path("big.sha"), LAB.fx().path("big.sums.log"));
        Workload source = LAB.fx().startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                LAB.fx().path("big.sha").toString(), sums.log().toString(), "0.5"), LAB.fx().path("big.out.log"));
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(90));
        assertTrue(first.isPresent(), () -> "memhold.py never wrote its checksum\n" + LAB.fx().diagnostics());
        String sha = first.get();
        assertTrue(sums.awaitEntry(1, Duration.ofSeconds(20)).isPresent(), "memhold.py logs no checksums");

        long cachePid = LAB.fx().daemons().cachePid();
        long rssBefore = ProcFs.rssKiB(cachePid) * 1024;
        FerryRun dumpRun = LAB.fx().startDump(source.pid(), "big");

        // Kill once the snapshot is visibly arriving: the cache's resident memory grew by MOVING_BYTES
        // (it holds images in memory), a fraction of the 1 GiB on its way.
        long deadline = System.currentTimeMillis() + 60_000;
        long grown;
        while ((grown = ProcFs.rssKiB(cachePid) * 1024 - rssBefore) < MOVING_BYTES) {
            if (!dumpRun.process().isAlive()) {
                fail("ferry dump finished before " + (MOVING_BYTES >> 20) + " MiB reached the cache (RSS +"
                        + (grown >> 20) + " MiB); cannot kill the cache mid-transfer\n"
                        + dumpRun.await(Duration.ofSeconds(5)).describe() + LAB.fx().diagnostics());
            }
            if (System.currentTimeMillis() > deadline) {
                fail("no bytes reached the cache within 60 s of ferry dump (RSS +" + (grown >> 20) + " MiB)\n"
                        + dumpRun.stdoutSoFar() + dumpRun.stderrSoFar() + LAB.fx().diagnostics());
            }
            Thread.sleep(2);
        }
        assertTrue(dumpRun.process().isAlive(), "ferry dump had already finished when the cache was to be killed");
        LAB.fx().daemons().killCache();
        System.out.println("CacheDiesMidTransferIT: killed image-cache pid " + cachePid + " with " + (grown >> 20)
                + " MiB of " + SIZE_MIB + " MiB received");

        FerryResult dump = dumpRun.await(Duration.ofSeconds(90));
        assertFalse(dump.timedOut(), () -> "ferry dump hung after the cache died\n" + dump.describe()
                + LAB.fx().diagnostics());
        assertEquals(6, dump.exitCode(), () -> "ferry dump should fail with exit 6 (image-cache unreachable / "
                + "connection broke) when the cache dies\n" + dump.describe() + LAB.fx().diagnostics());
        assertFalse(dump.stderr().isBlank(), "ferry dump failed without a message on stderr");

        assertTrue(source.isRunning(), () -> "the source process is gone after a failed dump (state "
                + ProcFs.state(source.pid()) + ")" + LAB.fx().diagnostics());
        assertTrue(LAB.fx().lab().processInNode(source.pid(), LAB.fx().lab().sourceNs()), "source left its node");
        long lastAtFailure = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        Optional<ChecksumLog.Entry> later = sums.awaitEntry(lastAtFailure + 2, Duration.ofSeconds(30));
        assertTrue(later.isPresent(), () -> "source logged no new checksum after the failed dump (state "
                + ProcFs.state(source.pid()) + ", last line " + lastAtFailure + ")" + LAB.fx().diagnostics());
        List<ChecksumLog.Entry> bad = sums.mismatches(sha);
        assertTrue(bad.isEmpty(), () -> "source memory changed after the failed dump: expected " + sha + ", got " + bad);
        assertTrue(source.isRunning(), "source died after the failed dump");
        assertTrue(LAB.fx().daemons().proxyAlive(), () -> "image-proxy died with the cache (it must keep serving)"
                + LAB.fx().diagnostics());
        System.out.printf("CacheDiesMidTransferIT: exit %d after %d ms: %s%n", dump.exitCode(), dump.elapsedMillis(),
                dump.stderr().strip());
    }
}
