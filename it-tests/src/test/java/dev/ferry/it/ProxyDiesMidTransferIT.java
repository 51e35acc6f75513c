package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.LogTail;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The image-proxy is SIGKILLed while a 1 GiB snapshot streams through it, with CRIU (its child) freezing the source
 * and writing into its pipes. Nothing is left to make CRIU fail on purpose: CRIU finds its pipes and its streamer
 * connection gone, fails, and must still roll back, so the source carries on with its memory intact. The cache drops
 * the half-received snapshot, and no CRIU process is left behind.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ProxyDiesMidTransferIT {

    private static final int SIZE_MIB = 1024;
    /**
     * How many bytes must have reached the target node (images arriving) before the proxy is killed. Counted on the
     * target's interfaces ({@code /proc/CACHE_PID/net/dev}), not with the cache's resident memory: the cache makes a
     * snapshot's announced memory resident at SNAPSHOT_BEGIN, before CRIU even starts, so its RSS says nothing about
     * bytes received.
     */
    private static final long MOVING_BYTES = 64L << 20;
    /** How long the source may stay frozen after the proxy's death: CRIU has to notice and roll back. */
    private static final long RESUMED_WITHIN_MS = 30_000;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(23, LabExtension.Daemons.BOTH, true);

    @Test
    void proxyKilledMidTransfer_criuRollsBack_sourceKeepsRunningWithSameMemory_cacheDropsTheSnapshot() throws Exception {
        LabFixture fx = LAB.fx();
        Path script = fx.script("memhold.py");
        ChecksumLog sums = new ChecksumLog(fx.path("big.sha"), fx.path("big.sums.log"));
        Workload source = fx.startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                fx.path("big.sha").toString(), sums.log().toString(), "0.5"), fx.path("big.out.log"));
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(90));
        assertTrue(first.isPresent(), () -> "memhold.py never wrote its checksum\n" + fx.diagnostics());
        String sha = first.get();
        assertTrue(sums.awaitEntry(1, Duration.ofSeconds(20)).isPresent(), "memhold.py logs no checksums");

        long cachePid = fx.daemons().cachePid();
        long proxyPid = fx.daemons().proxyPid();
        long readBefore = receivedBytes(cachePid);
        FerryRun dumpRun = fx.startDump(source.pid(), "big");

        long deadline = System.currentTimeMillis() + 60_000;
        long grown;
        while ((grown = receivedBytes(cachePid) - readBefore) < MOVING_BYTES) {
            if (!dumpRun.process().isAlive()) {
                fail("ferry dump finished before " + (MOVING_BYTES >> 20) + " MiB reached the cache (read +"
                        + (grown >> 20) + " MiB); cannot kill the proxy mid-transfer\n"
                        + dumpRun.await(Duration.ofSeconds(5)).describe() + fx.diagnostics());
            }
            if (System.currentTimeMillis() > deadline) {
                fail("no bytes reached the cache within 60 s of ferry dump (read +" + (grown >> 20) + " MiB)\n"
                        + dumpRun.stdoutSoFar() + dumpRun.stderrSoFar() + fx.diagnostics());
            }
            Thread.sleep(2);
        }
        List<Long> criu = criuDumpsOf(source.pid());
        assertFalse(criu.isEmpty(), "no criu dump of pid " + source.pid() + " runs while the snapshot streams");
        long lastBeforeKill = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        ProcessHandle.of(proxyPid).ifPresent(ProcessHandle::destroyForcibly);
        long killedAt = System.currentTimeMillis();
        assertTrue(ProcFs.awaitGone(proxyPid, 5_000), "the image-proxy survived SIGKILL");
        System.out.println("ProxyDiesMidTransferIT: killed image-proxy pid " + proxyPid + " with " + (grown >> 20)
                + " MiB of " + SIZE_MIB + " MiB received; criu dump pid(s) " + criu);

        // The source runs again: a new checksum line (memhold.py logs every 0.5 s, and only while it runs).
        Optional<ChecksumLog.Entry> later = sums.awaitEntry(lastBeforeKill + 2, Duration.ofMillis(RESUMED_WITHIN_MS));
        long resumedAfter = System.currentTimeMillis() - killedAt;
        assertTrue(later.isPresent(), () -> "the source logged no new checksum within " + RESUMED_WITHIN_MS
                + " ms of the image-proxy's death (state " + ProcFs.state(source.pid()) + "; CRIU "
                + criu + " alive: " + criu.stream().map(ProcFs::isRunning).toList() + ")" + criuLogs()
                + fx.diagnostics());
        assertTrue(source.isRunning(), () -> "the source process is gone (state " + ProcFs.state(source.pid()) + ")"
                + criuLogs() + fx.diagnostics());
        assertEquals(List.of(), sums.mismatches(sha), "the source's memory changed across the failed dump");
        for (long pid : criu) {
            assertTrue(ProcFs.awaitGone(pid, 10_000), "criu dump pid " + pid + " is still there" + criuLogs());
        }

        FerryResult dump = dumpRun.await(Duration.ofSeconds(30));
        assertFalse(dump.timedOut(), () -> "ferry dump hung after its image-proxy died\n" + dump.describe());
        assertNotEquals(0, dump.exitCode(), () -> "ferry dump succeeded although its image-proxy died\n"
                + dump.describe());
        assertTrue(dump.stderr().contains("image-proxy") && dump.stderr().contains("resumes the source"),
                () -> "ferry dump does not say that its image-proxy went away and what becomes of the source\n"
                        + dump.describe());

        // The cache saw the connection break before the commit: nothing under that name is served.
        assertTrue(fx.daemons().cacheAlive(), "the image-cache died with the proxy");
        // (with the proxy's default --retry-for 10s the cache first keeps it for a reattach that never comes, and
        // drops it 15 s later; ReattachTest and ResumeIT check the drop)
        assertTrue(LogTail.grep(fx.daemons().cacheLog(), "dropped", 5).contains("big")
                || LogTail.grep(fx.daemons().cacheLog(), "lost before commit; kept", 5).contains("big"),
                () -> "the image-cache logged neither a drop of the half-received snapshot nor that it keeps it for a"
                        + " reattach" + fx.diagnostics());
        FerryResult restore = fx.restore("big", fx.path("big.pid"));
        assertEquals(9, restore.exitCode(), () -> "a restore of the half-received snapshot should find nothing"
                + " (exit 9)\n" + restore.describe());
        System.out.printf("ProxyDiesMidTransferIT: source ran again %d ms after the kill; ferry dump exit %d: %s%n",
                resumedAfter, dump.exitCode(), dump.stderr().strip());
    }

    /** PIDs of running {@code criu dump ... -t PID} processes (whatever their parent now). */
    /** Bytes received by every interface but lo in the network namespace of {@code pid} (/proc/PID/net/dev). */
    private static long receivedBytes(long pid) throws IOException {
        long total = 0;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/net/dev"))) {
            int colon = line.indexOf(':');
            if (colon < 0 || line.substring(0, colon).trim().equals("lo")) {
                continue; // the two header lines, and loopback
            }
            total += Long.parseLong(line.substring(colon + 1).trim().split("\\s+")[0]);
        }
        return total;
    }

    private static List<Long> criuDumpsOf(long pid) throws IOException {
        List<Long> found = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    List<String> args = List.of(new String(Files.readAllBytes(p.resolve("cmdline"))).split("\0"));
                    int t = args.indexOf("-t");
                    if (args.contains("dump") && t >= 0 && t + 1 < args.size() && args.get(t + 1).equals(Long.toString(pid))
                            && args.stream().anyMatch(a -> a.endsWith("criu"))) {
                        found.add(Long.parseLong(name));
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            }
        }
        return found;
    }

    /** The tails of the proxy's CRIU dump logs, for a failure message. */
    private static String criuLogs() {
        StringBuilder b = new StringBuilder();
        Path work = LAB.fx().daemons().sourceRunDir().resolve("proxy-work");
        try (var dirs = Files.list(work)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                b.append("\n").append(d.resolve("dump.log")).append(":\n").append(LogTail.of(d.resolve("dump.log"), 25));
            }
        } catch (IOException e) {
            b.append("\n(no proxy work dir: ").append(e.getMessage()).append(")");
        }
        return b.toString();
    }
}
