package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
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

import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code ferry migrate --lazy} (post-copy) between the two nodes, over the lab's mutual TLS: a process holding
 * 1 GiB of pseudo-random memory and serving a live TCP client runs on the target right after a short freeze, its
 * pages follow through the link's page-server channel, and afterwards its memory is byte for byte what it was and
 * the client's connection never broke. Then the documented failure: the link is cut while pages are still on the
 * source, so the process cannot go on; it is stopped on both nodes, nothing of it or of CRIU is left, and the
 * daemons keep serving.
 */
@Timeout(value = 420, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LazyMigrateIT {

    private static final int OCTET = 60;
    private static final int SIZE_MIB = 1024;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.BOTH, true, true);
    @RegisterExtension
    static final PostCopyHost HOST = new PostCopyHost();

    private static String vip(int host) {
        return "10.231." + OCTET + "." + host;
    }

    @Test
    @Order(1)
    void gibProcessRunsOnTargetAfterShortFreeze_memoryIdenticalByteForByte_clientConnectionSurvives() throws Exception {
        LabFixture fx = LAB.fx();
        String vip = vip(100);
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        source.addAddress(vip + "/32");
        ChecksumLog sums = new ChecksumLog(fx.path("lazy.sha"), fx.path("lazy.sums.log"));
        Workload server = startLazymem(fx, fx.path("lazy.sha"), sums, vip, 7460, "lazy");
        String sha = awaitSha(fx, sums);
        ReplyLog replies = new ReplyLog(fx.path("lazy.replies.log"));
        startClient(fx, vip, 7460, replies);
        replies.await(fx, 50, 30_000, "before the migration");
        long rssMiB = ProcFs.rssKiB(server.pid()) / 1024;
        assertTrue(rssMiB >= SIZE_MIB, "workload RSS " + rssMiB + " MiB (expected: >= " + SIZE_MIB + ")");
        long sumsBefore = sums.last().map(ChecksumLog.Entry::n).orElse(0L);

        FerryResult migrate = fx.migrate(server.pid(), "--lazy", "--tcp-established", "--move-ip", vip + "/32",
                "--json");
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate --lazy failed\n" + migrate.describe() + fx.diagnostics());
        String json = migrate.stdout();
        long lazyBytes = PostCopyHost.jsonLong(json, "lazy_bytes");
        long freezeMs = PostCopyHost.jsonLong(json, "freeze_ms");
        assertTrue(lazyBytes >= (SIZE_MIB - 64L) << 20, () -> "only " + lazyBytes + " page bytes crossed after the"
                + " target resumed (expected: most of " + SIZE_MIB + " MiB, post-copy)\n" + json);
        long restored = fx.adopt(PostCopyHost.jsonLong(json, "restored_pid"));
        assertTrue(ProcFs.awaitGone(server.pid(), 5_000), "the source process still runs after the migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored + " is not in the target");

        // byte for byte: two full passes over the whole 1 GiB on the target, each with the sha from before
        Optional<ChecksumLog.Entry> later = sums.awaitEntry(sumsBefore + 2, Duration.ofSeconds(90));
        assertTrue(later.isPresent(), () -> "the restored process logged no new checksum (running: "
                + ProcFs.isRunning(restored) + ")" + fx.diagnostics());
        assertEquals(List.of(), sums.mismatches(sha), "memory changed across the post-copy migration");
        long atMigrate = replies.lastN();
        replies.await(fx, atMigrate + 100, 30_000, "after the migration (last reply before: " + atMigrate + ")");
        assertTrue(replies.errors().isEmpty(), () -> "the client's connection broke: " + replies.errors() + fx.diagnostics());
        assertEquals(List.of(), replies.discontinuities(), "lost or duplicated replies, or the counter restarted");

        assertFalse(source.hasAddress(vip), "the service address is still on the source");
        assertTrue(target.hasAddress(vip), "the service address is not on the target");
        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source");
        assertEquals(List.of(), PostCopyHost.criuProcesses(), "a CRIU process (dump, lazy-pages, restore) is left");
        assertEquals(List.of(), HOST.leftInLazyDir(), "post-copy images left on tmpfs");
        assertTrue(fx.imageFiles().isEmpty(), "checkpoint images were written to disk");
        System.out.printf("LazyMigrateIT: %d MiB, frozen %d ms, %d page bytes after the resume, longest reply gap %d ms%n%s%n",
                SIZE_MIB, freezeMs, lazyBytes, replies.maxGapMillis(), json);
    }

    @Test
    @Order(2)
    void linkCutMidPostCopy_processStoppedOnBothNodes_nothingLeft_daemonsServe() throws Exception {
        LabFixture fx = LAB.fx();
        String vip = vip(101);
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        source.addAddress(vip + "/32");
        ChecksumLog sums = new ChecksumLog(fx.path("cut.sha"), fx.path("cut.sums.log"));
        Workload server = startLazymem(fx, fx.path("cut.sha"), sums, vip, 7461, "cut");
        awaitSha(fx, sums);
        ReplyLog replies = new ReplyLog(fx.path("cut.replies.log"));
        startClient(fx, vip, 7461, replies);
        replies.await(fx, 20, 30_000, "before the migration");

        FerryRun run = fx.startMigrate(server.pid(), "--lazy", "--tcp-established", "--move-ip", vip + "/32");
        long arrived = awaitMidPostCopy(fx, run);
        assertFalse(pythonsIn(fx, fx.lab().targetNs()).isEmpty(), "no restored process runs on the target during post-copy");
        // cut the link: reset the proxy's connection to the cache (both ends see it at once)
        String killed = fx.runIn(fx.lab().sourceNs(), "ss", "-K", "-tn", "dst", fx.lab().targetIp(), "dport", "=",
                ":" + fx.daemons().port());
        long cutAt = System.currentTimeMillis();
        assertTrue(killed.contains(fx.lab().targetIp()), () -> "ss -K found no connection to the cache to cut: " + killed);

        FerryResult migrate = run.await(Duration.ofSeconds(90));
        assertFalse(migrate.timedOut(), () -> "ferry migrate hung after the link was cut\n" + migrate.describe());
        assertNotEquals(0, migrate.exitCode(), () -> "the migration should have failed\n" + migrate.describe());
        assertTrue(migrate.stderr().contains("post-copy failed") && migrate.stderr().contains("cannot go on")
                && migrate.stderr().contains("stopped on both nodes"), () -> "ferry migrate does not say plainly what"
                + " became of the process\n" + migrate.describe());
        assertTrue(ProcFs.awaitGone(server.pid(), 10_000), "the stale source process still runs");
        PostCopyHost.waitUntil(() -> pythonsIn(fx, fx.lab().targetNs()).isEmpty(), 15_000, "the restored process still runs on the target");
        PostCopyHost.waitUntil(() -> PostCopyHost.criuProcesses().isEmpty(), 15_000, "a CRIU process (dump, lazy-pages, restore) is left");
        assertFalse(target.hasAddress(vip), "the target kept the service address: a half address move");
        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source");
        assertEquals(List.of(), target.lockRules(), "lock rules on the target");
        assertEquals(List.of(), HOST.leftInLazyDir(), "post-copy images left on tmpfs");
        assertTrue(fx.daemons().proxyAlive() && fx.daemons().cacheAlive(), "a daemon died with the link");

        // the daemons keep serving: a plain migration through the same pair works
        Workload small = fx.startWorkload(List.of("/usr/bin/python3", fx.script("ticker.py").toString(),
                fx.path("after.ticks.log").toString()), fx.path("after.out.log"));
        ReplyLog ticks = new ReplyLog(fx.path("after.ticks.log"));
        ticks.await(fx, 5, 15_000, "before the second migration");
        FerryResult again = fx.migrate(small.pid());
        assertEquals(0, again.exitCode(), () -> "the daemons do not serve after the cut\n" + again.describe());
        fx.adopt(NodeState.restoredPid(again.stdout()));
        System.out.printf("LazyMigrateIT fault: link cut with %d page bytes arrived; ferry migrate exit %d %d ms after"
                + " the cut: %s%n", arrived, migrate.exitCode(), System.currentTimeMillis() - cutAt,
                migrate.stderr().lines().filter(l -> l.contains("error")).findFirst().orElse(migrate.stderr()));
    }

    /**
     * The image-proxy process itself dies (SIGKILL) mid post-copy. The target can no longer get its pages: the cache
     * stops the restored tree and its lazy-pages, and keeps serving. On the source, CRIU (the dead proxy's child) finds
     * its page-server socket closed cleanly by the kernel (the proxy turned its reset off at RESUME) and ends the
     * stale source, as docs/migrate.md says: stopped on both nodes, no CRIU left. The client says plainly that the
     * process cannot go on; a restarted proxy migrates again.
     */
    @Test
    @Order(3)
    void proxyKilledMidPostCopy_stoppedOnBothNodes_noCriuLeft_clientSaysSo() throws Exception {
        LabFixture fx = LAB.fx();
        ChecksumLog sums = new ChecksumLog(fx.path("pk.sha"), fx.path("pk.sums.log"));
        Workload server = startLazymem(fx, fx.path("pk.sha"), sums, "127.0.0.1", 7462, "pk");
        awaitSha(fx, sums);
        List<String> shmBefore = HOST.leftInLazyDir();

        FerryRun run = fx.startMigrate(server.pid(), "--lazy");
        long arrived = awaitMidPostCopy(fx, run);
        assertFalse(pythonsIn(fx, fx.lab().targetNs()).isEmpty(), "no restored process runs on the target during post-copy");
        fx.daemons().killProxy();
        assertFalse(fx.daemons().proxyAlive(), "the image-proxy survived SIGKILL");

        FerryResult migrate = run.await(Duration.ofSeconds(60));
        assertFalse(migrate.timedOut(), () -> "ferry migrate hung after its image-proxy died\n" + migrate.describe());
        assertNotEquals(0, migrate.exitCode(), () -> "the migration should have failed\n" + migrate.describe());
        assertTrue(migrate.stderr().contains("image-proxy") && migrate.stderr().contains("post-copy failed")
                && migrate.stderr().contains("cannot go on"), () -> "ferry migrate does not say plainly that its"
                + " image-proxy went away and the process cannot go on\n" + migrate.describe());
        PostCopyHost.waitUntil(() -> pythonsIn(fx, fx.lab().targetNs()).isEmpty(), 15_000,
                "the restored process still runs on the target without its pages");
        PostCopyHost.waitUntil(() -> PostCopyHost.criuProcesses().isEmpty(), 15_000,
                "a CRIU process (the source's dump, lazy-pages, restore) is left: " + PostCopyHost.criuProcesses());
        // RESUME switched the reset off: the dead proxy's socket closes cleanly and CRIU ends the stale source
        assertTrue(ProcFs.awaitGone(server.pid(), 15_000), () -> "the stale source still exists (state "
                + ProcFs.state(server.pid()) + "): after the target ran it, it must not run on");
        String sourceState = "gone";
        assertTrue(fx.daemons().cacheAlive(), "the image-cache died with the proxy");
        HOST.deleteWhatADeadProxyLeft(shmBefore);

        fx.daemons().startProxy();
        Workload small = fx.startWorkload(List.of("/usr/bin/python3", fx.script("ticker.py").toString(),
                fx.path("pk.ticks.log").toString()), fx.path("pk.after.out.log"));
        ReplyLog ticks = new ReplyLog(fx.path("pk.ticks.log"));
        ticks.await(fx, 5, 15_000, "before the migration through the restarted proxy");
        FerryResult again = fx.migrate(small.pid());
        assertEquals(0, again.exitCode(), () -> "a restarted image-proxy does not migrate\n" + again.describe());
        fx.adopt(NodeState.restoredPid(again.stdout()));
        System.out.printf("LazyMigrateIT proxy killed: %d page bytes had arrived; source %s; ferry migrate exit %d: %s%n",
                arrived, sourceState, migrate.exitCode(), migrate.stderr().lines().filter(l -> l.contains("error"))
                        .findFirst().orElse(migrate.stderr()));
    }

    private static Workload startLazymem(LabFixture fx, Path sha, ChecksumLog sums, String vip, int port, String tag)
            throws Exception {
        return fx.startWorkload(List.of("/usr/bin/python3", fx.script("lazymem.py").toString(), Integer.toString(SIZE_MIB),
                sha.toString(), sums.log().toString(), vip, Integer.toString(port)), fx.path(tag + ".out.log"));
    }

    private static String awaitSha(LabFixture fx, ChecksumLog sums) throws Exception {
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(120));
        assertTrue(first.isPresent(), () -> "lazymem.py never wrote its checksum\n" + fx.diagnostics());
        assertTrue(sums.awaitEntry(1, Duration.ofSeconds(60)).isPresent(), "lazymem.py logs no checksums");
        return first.get();
    }

    private static void startClient(LabFixture fx, String vip, int port, ReplyLog replies) throws Exception {
        fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("counter_client.py").toString(), vip,
                Integer.toString(port), "0.01", replies.log().toString(), "300"), fx.path("client-" + port + ".out.log"));
    }

    /** Mid post-copy: the target runs the tree and at least 64 MiB of its pages, of 1 GiB, have crossed. */
    private static long awaitMidPostCopy(LabFixture fx, FerryRun run) throws Exception {
        long deadline = System.currentTimeMillis() + 90_000;
        long arrived;
        while ((arrived = lastArrived(run.stderrSoFar())) < (64L << 20)) {
            if (!run.process().isAlive()) {
                fail("ferry migrate --lazy ended before 64 MiB of pages crossed\n" + run.await(Duration.ofSeconds(5)).describe()
                        + fx.diagnostics());
            }
            if (System.currentTimeMillis() > deadline) {
                fail("post-copy did not move 64 MiB within 90 s\n" + run.stdoutSoFar() + run.stderrSoFar() + fx.diagnostics());
            }
            Thread.sleep(5);
        }
        return arrived;
    }

    /** The last "post-copy: N page bytes arrived" of ferry migrate's progress, or 0. */
    private static long lastArrived(String stderr) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("post-copy: (\\d+) page bytes arrived").matcher(stderr);
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    /**
     * PIDs of python3 processes in node {@code ns}, by /proc/PID/comm: a post-copy process's cmdline lives in pages
     * that may still be on the source, and reading it from outside waits for them or comes back empty.
     */
    private static List<Long> pythonsIn(LabFixture fx, String ns) throws IOException {
        List<Long> found = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.matches("\\d+")) {
                    continue;
                }
                try {
                    long pid = Long.parseLong(name);
                    if (Files.readString(p.resolve("comm")).strip().startsWith("python3")
                            && fx.lab().processInNode(pid, ns)) {
                        found.add(pid);
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        }
        return found;
    }
}
