package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.CounterLoop;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.LogTail;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code ferry migrate} between two nodes with a client on a third: a TCP service moves with its address and its
 * live connection; a JVM keeps its state; a restore that fails on the target rolls back to a source that never
 * stopped serving; a failed restore can be retried.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MigrateIT {

    private static final int OCTET = 18;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.BOTH, true, true);

    private static String vip(int host) {
        return "10.231." + OCTET + "." + host;
    }

    @Test
    void tcpServiceMovesWithItsAddressAndLiveConnection_noResetNoGapNothingLeft() throws Exception {
        LabFixture fx = LAB.fx();
        String vip = vip(100);
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        source.addAddress(vip + "/32");
        Workload server = fx.startWorkload(List.of("/usr/bin/python3", fx.script("counter_server.py").toString(), vip,
                "7400"), fx.path("server.out.log"));
        ReplyLog replies = new ReplyLog(fx.path("client.replies.log"));
        startClient(fx, vip, 7400, replies);
        replies.await(LAB.fx(), 50, 15_000, "before the migration");

        FerryResult migrate = fx.migrate(server.pid(), "--tcp-established", "--move-ip", vip + "/32");
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate failed\n" + migrate.describe() + fx.diagnostics());
        long atMigrate = replies.lastN();
        long restored = fx.adopt(NodeState.restoredPid(migrate.stdout()));
        assertTrue(ProcFs.awaitGone(server.pid(), 5_000), "the source process still runs after the migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored + " is not in the target");

        replies.await(LAB.fx(), atMigrate + 100, 20_000, "after the migration (last reply before: " + atMigrate + ")");
        assertTrue(replies.errors().isEmpty(), () -> "the client's connection broke: " + replies.errors() + fx.diagnostics());
        assertEquals(List.of(), replies.discontinuities(), "lost or duplicated replies, or the counter restarted");
        assertFalse(source.hasAddress(vip), "the service address is still on the source");
        assertTrue(target.hasAddress(vip), "the service address is not on the target");
        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source");
        assertEquals(List.of(), source.processes("counter_server.py"), "something of the server remains on the source");
        assertTrue(migrate.stdout().contains("frozen"), migrate.stdout());
        assertTrue(fx.imageFiles().isEmpty(), "checkpoint images were written to disk");
        System.out.printf("MigrateIT tcp: longest reply gap %d ms%n%s%n", replies.maxGapMillis(), migrate.stdout());
    }

    @Test
    void jvmKeepsItsState() throws Exception {
        LabFixture fx = LAB.fx();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ReplyLog ticks = new ReplyLog(fx.path("jvm.ticks.log"));
        Workload jvm = fx.startWorkload(List.of(java, "-XX:-UsePerfData", "-Xmx96m", "-XX:+UseSerialGC",
                fx.script("State.java").toString(), ticks.log().toString()), fx.path("jvm.out.log"));
        ticks.await(LAB.fx(), 20, 60_000, "before the migration (JVM start)");

        FerryResult migrate = fx.migrate(jvm.pid());
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate of a JVM failed\n" + migrate.describe() + fx.diagnostics());
        long atMigrate = ticks.lastN();
        long restored = fx.adopt(NodeState.restoredPid(migrate.stdout()));
        assertTrue(ProcFs.awaitGone(jvm.pid(), 5_000), "the source JVM still runs after the migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "the restored JVM is not in the target");
        ticks.await(LAB.fx(), atMigrate + 25, 20_000, "after the migration (last tick before: " + atMigrate + ")");
        assertEquals(List.of(), ticks.discontinuities(), "the JVM's state (its map) did not continue");
    }

    /**
     * The target's {@code criu restore} runs inside the downtime, so it must not probe the kernel (40-60 ms): where
     * /run is not a tmpfs CRIU keeps no cache of its probes, and the daemons prime one at start (KerndatCache).
     */
    @Test
    void targetCriuLoadsTheKernelProbeCache() throws Exception {
        LabFixture fx = LAB.fx();
        Path counter = fx.path("kdat.counter");
        Workload loop = fx.startWorkload(CounterLoop.command(counter), fx.path("kdat.out.log"));
        CounterLoop.awaitAtLeast(counter, 3, java.time.Duration.ofSeconds(10));

        FerryResult migrate = fx.migrate(loop.pid());
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate failed\n" + migrate.describe() + fx.diagnostics());
        fx.adopt(NodeState.restoredPid(migrate.stdout()));

        if (!"tmpfs".equals(Files.getFileStore(Path.of("/run")).type())) {
            String bootId = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
            Path mark = Path.of("/run/criu.kdat.ferry-boot-id");
            assertTrue(Files.isRegularFile(Path.of("/run/criu.kdat")), "/run is not a tmpfs and no /run/criu.kdat:"
                    + " the daemons did not prime CRIU's kernel-probe cache");
            assertTrue(Files.isRegularFile(mark), "/run/criu.kdat was not made by ferry (no " + mark + ")");
            assertEquals(bootId, Files.readString(mark).strip(), "the primed cache is from another boot");
        }
        Path log = newestRestoreLog(fx.daemons().targetRunDir());
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(text.contains("Loaded kdat cache from /run/criu.kdat"),
                () -> "the target's CRIU probed the kernel instead of loading its cache; " + log + ":\n"
                        + LogTail.of(log, 20));
    }

    private static Path newestRestoreLog(Path runDir) throws IOException {
        try (Stream<Path> s = Files.walk(runDir)) {
            return s.filter(p -> p.getFileName().toString().equals("restore.log"))
                    .max(Comparator.comparing(p -> p.toFile().lastModified()))
                    .orElseThrow(() -> new AssertionError("no restore.log under " + runDir));
        }
    }

    @Test
    void restoreFailureOnTargetRollsBack_sourceServesOnTargetClean() throws Exception {
        LabFixture fx = LAB.fx();
        String vip = vip(101);
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        source.addAddress(vip + "/32");
        // Not in a PID namespace of its own: its PID is still taken (by itself, frozen) when the target restores,
        // so CRIU's restore fails with "Can't fork for PID: File exists" after the address was added there.
        Process server = fx.startIn(fx.lab().sourceNs(), List.of("setsid", "/usr/bin/python3",
                fx.script("counter_server.py").toString(), vip, "7401"), fx.path("rollback-server.out.log"));
        ReplyLog replies = new ReplyLog(fx.path("rollback.replies.log"));
        startClient(fx, vip, 7401, replies);
        replies.await(LAB.fx(), 50, 15_000, "before the migration");

        FerryResult migrate = fx.migrate(server.pid(), "--tcp-established", "--move-ip", vip + "/32");
        assertNotEquals(0, migrate.exitCode(), () -> "the migration should have failed\n" + migrate.describe());
        assertTrue(migrate.stderr().contains("File exists") || migrate.stderr().contains("PID namespace"),
                () -> "the reason is not shown\n" + migrate.describe());
        assertTrue(migrate.stderr().contains("keeps running"), () -> migrate.describe());
        long atFailure = replies.lastN();
        replies.await(LAB.fx(), atFailure + 50, 15_000, "after the rollback (last reply before: " + atFailure + ")");
        assertTrue(ProcFs.isRunning(server.pid()), "the source process is not running after the rollback");
        assertTrue(replies.errors().isEmpty(), () -> "the client's connection broke: " + replies.errors() + fx.diagnostics());
        assertEquals(List.of(), replies.discontinuities(), "lost or duplicated replies across the rollback");
        assertTrue(source.hasAddress(vip), "the source lost its service address");
        assertEquals(List.of(), source.lockRules(), "CRIU's lock is left on the source after the rollback");
        assertFalse(target.hasAddress(vip), "the target kept the service address after a failed restore");
        assertEquals(List.of(), target.lockRules(), "lock rules on the target");
        assertEquals(List.of(), target.processes("counter_server.py"), "a process is left on the target");
    }

    @Test
    void failedRestoreIsRetriedAndSucceeds() throws Exception {
        LabFixture fx = LAB.fx();
        ReplyLog ticks = new ReplyLog(fx.path("retry.ticks.log"));
        // no PID namespace: while the source runs (--leave-running) its PID is taken, so the first restore fails
        Process ticker = fx.startIn(fx.lab().sourceNs(), List.of("setsid", "/usr/bin/python3",
                fx.script("ticker.py").toString(), ticks.log().toString()), fx.path("ticker.out.log"));
        ticks.await(LAB.fx(), 10, 15_000, "before the dump");
        FerryResult dump = fx.dump(ticker.pid(), "retry", "--leave-running");
        assertEquals(0, dump.exitCode(), () -> "ferry dump failed\n" + dump.describe() + fx.diagnostics());

        Path pidfile = fx.path("retry.pid");
        FerryResult first = fx.restore("retry", pidfile);
        assertNotEquals(0, first.exitCode(), () -> "the first restore should fail (PID in use)\n" + first.describe());
        assertTrue(first.stderr().contains("stays in the cache"), first::describe);

        ticker.destroyForcibly();
        assertTrue(ticker.waitFor(5, TimeUnit.SECONDS), "the source ticker did not end");
        long beforeRetry = ticks.replies().size();
        FerryResult retry = fx.restore("retry", pidfile);
        assertEquals(0, retry.exitCode(), () -> "the retried restore failed\n" + retry.describe() + fx.diagnostics());
        long restored = fx.restoredPid(pidfile);
        assertEquals(ticker.pid(), restored, "restored under another PID");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "the restored ticker is not in the target");
        long deadline = System.currentTimeMillis() + 10_000;
        while (ticks.replies().size() < beforeRetry + 10 && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(ticks.replies().size() >= beforeRetry + 10, "the restored ticker does not tick");
    }

    private static void startClient(LabFixture fx, String vip, int port, ReplyLog replies) throws Exception {
        fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("counter_client.py").toString(), vip,
                Integer.toString(port), "0.01", replies.log().toString(), "120"), fx.path("client-" + port + ".out.log"));
    }

}
