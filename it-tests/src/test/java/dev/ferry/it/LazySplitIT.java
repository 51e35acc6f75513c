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
import dev.ferry.protocol.ExitCode;

import java.io.IOException;
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
 * Post-copy in two commands between the lab's two nodes, over mutual TLS, with the real CRIU: {@code ferry dump
 * --remote --lazy} on the source leaves the process frozen there, serving its pages, until {@code ferry restore
 * --remote --lazy} on the target has fetched the last one; the restored process's memory is byte for byte what it was.
 * Then the fault: no restore within {@code --lazy-timeout}, so nothing was handed out: the source runs on, reachable,
 * its network unlocked, and the cache holds nothing. Then the refused preflight: {@code fs.pipe-max-size} too low.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LazySplitIT {

    private static final int OCTET = 62;
    private static final int SIZE_MIB = 256;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.BOTH, true, true);
    @RegisterExtension
    static final PostCopyHost HOST = new PostCopyHost();

    @Test
    @Order(1)
    void dumpLazyThenRestoreLazy_memoryIdenticalByteForByte_sourceEnds() throws Exception {
        LabFixture fx = LAB.fx();
        ChecksumLog sums = new ChecksumLog(fx.path("split.sha"), fx.path("split.sums.log"));
        Workload server = startLazymem(fx, sums, 7470, "split");
        String sha = awaitSha(fx, sums);

        FerryRun dump = fx.startDump(server.pid(), "split1", "--lazy", "--json");
        awaitServing(fx, dump, "split1");
        assertTrue(ProcFs.isRunning(server.pid()) || ProcFs.state(server.pid()).isPresent(),
                "the source process is gone while its pages are served");
        long sumsFrozen = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        Thread.sleep(1500);
        assertEquals(sumsFrozen, sums.last().map(ChecksumLog.Entry::n).orElse(0L),
                "the source computed on while ferry dump --lazy said it was frozen");

        Path pidfile = fx.path("split1.pid");
        FerryResult restore = fx.restore("split1", pidfile, "--lazy", "--json");
        assertEquals(0, restore.exitCode(), () -> "ferry restore --lazy failed\n" + restore.describe() + fx.diagnostics());
        long restored = fx.restoredPid(pidfile);
        assertEquals(restored, PostCopyHost.jsonLong(restore.stdout(), "pid"), restore.stdout());
        long lazyBytes = PostCopyHost.jsonLong(restore.stdout(), "lazy_bytes");
        assertTrue(lazyBytes >= (SIZE_MIB - 64L) << 20, () -> "only " + lazyBytes + " page bytes arrived after the"
                + " restore (expected: most of " + SIZE_MIB + " MiB, post-copy)\n" + restore.stdout());
        assertTrue(restore.stderr().contains("post-copy: ") && restore.stderr().contains("still on the source"),
                () -> "ferry restore --lazy showed no post-copy progress\n" + restore.describe());

        FerryResult dumped = dump.await(Duration.ofSeconds(60));
        assertEquals(0, dumped.exitCode(), () -> "ferry dump --lazy failed after the restore\n" + dumped.describe()
                + fx.diagnostics());
        assertEquals(restored, PostCopyHost.jsonLong(dumped.stdout(), "restored_pid"), dumped.stdout());
        assertTrue(PostCopyHost.jsonLong(dumped.stdout(), "lazy_bytes") >= (SIZE_MIB - 64L) << 20, dumped.stdout());
        assertTrue(ProcFs.awaitGone(server.pid(), 5_000), "the source process still runs after its last page left");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored + " is not in the target");

        // byte for byte: two full passes over the whole memory on the target, each with the sha from before
        Optional<ChecksumLog.Entry> later = sums.awaitEntry(sumsFrozen + 2, Duration.ofSeconds(60));
        assertTrue(later.isPresent(), () -> "the restored process logged no new checksum (running: "
                + ProcFs.isRunning(restored) + ")" + fx.diagnostics());
        assertEquals(List.of(), sums.mismatches(sha), "memory changed across the post-copy dump and restore");
        assertTrue(answers(fx, fx.lab().targetIp(), 7470), "the restored process does not answer on the target");

        assertEquals(List.of(), PostCopyHost.criuProcesses(), "a CRIU process (dump, lazy-pages, restore) is left");
        assertEquals(List.of(), HOST.leftInLazyDir(), "post-copy images left on tmpfs");
        assertTrue(fx.imageFiles().isEmpty(), "checkpoint images were written to disk");
        assertTrue(heldSnapshots(fx).contains("\"snapshots\":[]"), "the cache still holds the snapshot");
        System.out.printf("LazySplitIT: %d MiB; restore: %s%n", SIZE_MIB, restore.stdout().strip());
    }

    @Test
    @Order(2)
    void noRestoreWithinLazyTimeout_sourceRunsOnReachableAndUnlocked_cacheHoldsNothing() throws Exception {
        LabFixture fx = LAB.fx();
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        ChecksumLog sums = new ChecksumLog(fx.path("nores.sha"), fx.path("nores.sums.log"));
        Workload server = startLazymem(fx, sums, 7471, "nores");
        String sha = awaitSha(fx, sums);
        // a live connection, so that --tcp-established makes CRIU lock the network
        ReplyLog replies = new ReplyLog(fx.path("nores.replies.log"));
        fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("counter_client.py").toString(),
                fx.lab().sourceIp(), "7471", "0.01", replies.log().toString(), "120"), fx.path("nores.client.log"));
        replies.await(fx, 20, 30_000, "before the dump");

        long started = System.currentTimeMillis();
        FerryRun dump = fx.startDump(server.pid(), "nores1", "--lazy", "--lazy-timeout", "4", "--tcp-established",
                "--json");
        awaitServing(fx, dump, "nores1");
        List<String> locked = source.lockRules();
        assertFalse(locked.isEmpty(), "no CRIU network lock on the source while it is frozen (the test would prove"
                + " nothing about its removal)");
        String held = heldSnapshots(fx);
        assertTrue(held.contains("\"name\":\"nores1\"") && held.contains("\"lazy\":true"), () -> "the cache does not"
                + " hold the lazy snapshot as lazy while its source serves it: " + held + fx.diagnostics());
        long sumsFrozen = sums.last().map(ChecksumLog.Entry::n).orElse(0L);

        FerryResult dumped = dump.await(Duration.ofSeconds(60));
        long millis = System.currentTimeMillis() - started;
        assertEquals(ExitCode.TIMEOUT.code(), dumped.exitCode(), () -> "ferry dump --lazy with no restore\n"
                + dumped.describe() + fx.diagnostics());
        assertTrue(dumped.stderr().contains("--lazy-timeout") && dumped.stderr().contains("keeps running"),
                () -> "ferry dump --lazy does not say plainly what became of the process\n" + dumped.describe());
        assertTrue(millis >= 4_000, "ferry dump gave up after " + millis + " ms (expected: --lazy-timeout 4 s)");

        assertTrue(ProcFs.isRunning(server.pid()), "the source process is not running after the timeout");
        Optional<ChecksumLog.Entry> again = sums.awaitEntry(sumsFrozen + 1, Duration.ofSeconds(60));
        assertTrue(again.isPresent(), () -> "the resumed source logged no new checksum" + fx.diagnostics());
        assertEquals(List.of(), sums.mismatches(sha), "the resumed source's memory changed");
        assertTrue(answers(fx, fx.lab().sourceIp(), 7471), "the resumed source does not answer a new connection");
        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source (found while frozen: "
                + locked + ")");
        PostCopyHost.waitUntil(() -> heldSnapshots(fx).contains("\"snapshots\":[]"), 10_000, "the cache still holds the snapshot");
        assertEquals(List.of(), PostCopyHost.criuProcesses(), "a CRIU process is left");
        assertEquals(List.of(), HOST.leftInLazyDir(), "post-copy images left on tmpfs");
        assertTrue(fx.daemons().proxyAlive() && fx.daemons().cacheAlive(), "a daemon died");
        System.out.printf("LazySplitIT fault: no restore, ferry dump exit %d after %d ms; lock while frozen: %s%n",
                dumped.exitCode(), millis, locked);
    }

    @Test
    @Order(3)
    void pipeMaxSizeTooLow_lazyDumpRefusedBeforeAnythingIsFrozen_sourceUntouched() throws Exception {
        LabFixture fx = LAB.fx();
        ChecksumLog sums = new ChecksumLog(fx.path("pipe.sha"), fx.path("pipe.sums.log"));
        Workload server = startLazymem(fx, sums, 7472, "pipe");
        String sha = awaitSha(fx, sums);
        FerryResult dumped;
        PostCopyHost.setPipeMax("1048576");
        try {
            dumped = fx.dump(server.pid(), "pipe1", "--lazy");
        } finally {
            PostCopyHost.setPipeMax(PostCopyHost.LAZY_PIPE_MAX);
        }
        assertEquals(ExitCode.REFUSED.code(), dumped.exitCode(), dumped::describe);
        assertTrue(dumped.stderr().contains("refused before anything was frozen")
                && dumped.stderr().contains("fs.pipe-max-size is 1048576")
                && dumped.stderr().contains("sysctl -w fs.pipe-max-size=4194304"), dumped::describe);
        long before = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        assertTrue(sums.awaitEntry(before + 1, Duration.ofSeconds(30)).isPresent(), "the source stopped computing");
        assertEquals(List.of(), sums.mismatches(sha));
        assertTrue(heldSnapshots(fx).contains("\"snapshots\":[]"), "the cache holds something after a refused dump");
        assertEquals(List.of(), PostCopyHost.criuProcesses(), "a CRIU process was started for a refused dump");
    }

    private static Workload startLazymem(LabFixture fx, ChecksumLog sums, int port, String tag) throws Exception {
        return fx.startWorkload(List.of("/usr/bin/python3", fx.script("lazymem.py").toString(), Integer.toString(SIZE_MIB),
                fx.path(tag + ".sha").toString(), sums.log().toString(), "0.0.0.0", Integer.toString(port)),
                fx.path(tag + ".out.log"));
    }

    private static String awaitSha(LabFixture fx, ChecksumLog sums) throws Exception {
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(120));
        assertTrue(first.isPresent(), () -> "lazymem.py never wrote its checksum\n" + fx.diagnostics());
        assertTrue(sums.awaitEntry(1, Duration.ofSeconds(60)).isPresent(), "lazymem.py logs no checksums");
        return first.get();
    }

    /**
     * The image-proxy dies (SIGKILL) while {@code ferry dump --lazy} waits for its restore: nothing was handed out, so
     * the source must run on. The kernel closes the dead proxy's end of CRIU's page-server socket, and CRIU 4.2 ends
     * the source on a clean EOF; the proxy armed a reset on that socket from the start (SO_LINGER 0), which makes CRIU
     * resume it instead. The cache drops the snapshot with the connection; a restarted proxy dumps again.
     */
    @Test
    @Order(4)
    void proxyKilledWhileTheLazyDumpWaits_sourceRunsOn_cacheDropsTheSnapshot() throws Exception {
        LabFixture fx = LAB.fx();
        ChecksumLog sums = new ChecksumLog(fx.path("pk.sha"), fx.path("pk.sums.log"));
        Workload server = startLazymem(fx, sums, 7473, "pk");
        String sha = awaitSha(fx, sums);
        List<String> shmBefore = HOST.leftInLazyDir();

        FerryRun dump = fx.startDump(server.pid(), "pk1", "--lazy", "--json");
        awaitServing(fx, dump, "pk1");
        long sumsFrozen = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        fx.daemons().killProxy();
        assertFalse(fx.daemons().proxyAlive(), "the image-proxy survived SIGKILL");

        FerryResult dumped = dump.await(Duration.ofSeconds(30));
        assertFalse(dumped.timedOut(), () -> "ferry dump hung after its image-proxy died\n" + dumped.describe());
        assertNotEquals(0, dumped.exitCode(), () -> "ferry dump succeeded without its image-proxy\n" + dumped.describe());
        Optional<ChecksumLog.Entry> again = sums.awaitEntry(sumsFrozen + 1, Duration.ofSeconds(30));
        assertTrue(again.isPresent(), () -> "the source did not run on after its image-proxy died (state "
                + ProcFs.state(server.pid()) + "): CRIU ended it instead of resuming it" + fx.diagnostics());
        assertTrue(ProcFs.isRunning(server.pid()), "the source process is gone");
        assertEquals(List.of(), sums.mismatches(sha), "the resumed source's memory changed");
        PostCopyHost.waitUntil(() -> PostCopyHost.criuProcesses().isEmpty(), 15_000, "a CRIU process is left");
        PostCopyHost.waitUntil(() -> heldSnapshots(fx).contains("\"snapshots\":[]"), 15_000,
                "the cache still holds the snapshot of a source that ran on");
        assertTrue(fx.daemons().cacheAlive(), "the image-cache died with the proxy");
        HOST.deleteWhatADeadProxyLeft(shmBefore);

        fx.daemons().startProxy();
        FerryResult plain = fx.dump(server.pid(), "pk2");
        assertEquals(0, plain.exitCode(), () -> "a restarted image-proxy does not dump\n" + plain.describe());
        System.out.printf("LazySplitIT proxy killed while serving: source ran on (checksum %d); ferry dump exit %d: %s%n",
                again.get().n(), dumped.exitCode(), dumped.stderr().strip().lines().reduce((a, b) -> b).orElse(""));
    }

    /** Waits until {@code ferry dump --lazy} says the tree is frozen and names the restore to run. */
    private static void awaitServing(LabFixture fx, FerryRun dump, String snapshot) throws Exception {
        String expected = "Now run `ferry restore -D " + snapshot + " --remote --lazy` on the target";
        long deadline = System.currentTimeMillis() + 60_000;
        while (!dump.stderrSoFar().contains(expected)) {
            if (!dump.process().isAlive() || System.currentTimeMillis() > deadline) {
                fail("ferry dump --lazy never said what to run next\n" + dump.stdoutSoFar() + dump.stderrSoFar()
                        + fx.diagnostics());
            }
            Thread.sleep(20);
        }
        assertNotEquals(-1, dump.stderrSoFar().indexOf("is frozen here"), dump.stderrSoFar());
    }

    /** Whether a new connection from the client node to {@code ip:port} gets an answer from lazymem.py. */
    private static boolean answers(LabFixture fx, String ip, int port) throws Exception {
        String out = fx.runIn(fx.lab().clientNs(), "/usr/bin/python3", "-c", "import socket;"
                + "s=socket.create_connection(('" + ip + "'," + port + "),timeout=8);s.sendall(b'1\\n');"
                + "print('answer', s.makefile().readline().strip())");
        return out.matches("(?s)answer 1 \\d+\\s*");
    }

    private static String heldSnapshots(LabFixture fx) throws Exception {
        FerryResult ls = fx.ferry(fx.lab().targetNs(), List.of("images", "ls", "--json", "--run-dir",
                fx.daemons().targetRunDir().toString()));
        assertEquals(0, ls.exitCode(), ls::describe);
        return ls.stdout().replace(" ", "");
    }
}
