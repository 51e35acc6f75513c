package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
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

/** 256 MiB of touched, pseudo-random memory arrives on the target byte for byte. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LargeMemoryIT {

    private static final int SIZE_MIB = 256;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(12, LabExtension.Daemons.BOTH, true);

    @Test
    void memoryOf256MiBIsIdenticalAfterRestore_andProcessKeepsRunning() throws Exception {
        Path script = LAB.fx().script("memhold.py");
        ChecksumLog sums = new ChecksumLog(LAB.fx().path("mem.sha"), LAB.fx().path("mem.sums.log"));
        Workload source = LAB.fx().startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                LAB.fx().path("mem.sha").toString(), sums.log().toString(), "0.5"), LAB.fx().path("mem.out.log"));

        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(60));
        assertTrue(first.isPresent(), () -> "memhold.py never wrote its checksum\n" + LAB.fx().diagnostics());
        String sha = first.get();
        assertTrue(sums.awaitEntry(2, Duration.ofSeconds(20)).isPresent(), "memhold.py logs no checksums");
        long rssMiB = ProcFs.rssKiB(source.pid()) / 1024;
        assertTrue(rssMiB >= SIZE_MIB, "workload RSS " + rssMiB + " MiB (expected: >= " + SIZE_MIB + " MiB)");

        FerryResult dump = LAB.fx().dump(source.pid(), "mem256");
        assertEquals(0, dump.exitCode(), () -> "ferry dump failed\n" + dump.describe() + LAB.fx().diagnostics());
        assertTrue(ProcFs.awaitGone(source.pid(), 5_000),
                () -> "source pid " + source.pid() + " still runs after a successful dump" + LAB.fx().diagnostics());
        Thread.sleep(200); // a line being appended at the freeze is complete by now
        long lastBefore = sums.last().map(ChecksumLog.Entry::n).orElse(0L);

        Path pidfile = LAB.fx().path("mem.pid");
        FerryResult restore = LAB.fx().restore("mem256", pidfile);
        assertEquals(0, restore.exitCode(), () -> "ferry restore failed\n" + restore.describe() + LAB.fx().diagnostics());
        long restored = LAB.fx().restoredPid(pidfile);
        assertTrue(LAB.fx().lab().processInNode(restored, LAB.fx().lab().targetNs()),
                () -> "restored pid " + restored + " is not in the target netns");

        Optional<ChecksumLog.Entry> later = sums.awaitEntry(lastBefore + 3, Duration.ofSeconds(30));
        assertTrue(later.isPresent(), () -> "restored process logged no new checksum after line " + lastBefore
                + " (running: " + ProcFs.isRunning(restored) + ")" + LAB.fx().diagnostics());
        List<ChecksumLog.Entry> bad = sums.mismatches(sha);
        assertTrue(bad.isEmpty(), () -> "memory changed across the migration: expected sha " + sha
                + " everywhere, got " + bad);
        assertTrue(LAB.fx().imageFiles().isEmpty(), "checkpoint images were written to disk");
        System.out.printf("LargeMemoryIT: %d MiB, sha %s, lines %d before dump, %d after restore%n", SIZE_MIB,
                sha, lastBefore, later.get().n());
    }
}
