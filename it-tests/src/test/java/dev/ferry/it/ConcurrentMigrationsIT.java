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

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Sixteen {@code ferry migrate} of independent process trees at once through one image-proxy/image-cache pair: mixed
 * sizes (8 to 128 MiB), some with a live TCP client on a third node and their service address moved. Three of them
 * fail on purpose: one workload is killed while it is being dumped, one restore fails on the target (its PID is
 * taken there), one is refused at SNAPSHOT_BEGIN because it does not fit the cache's {@code --max-memory}. The other
 * thirteen end running on the target with their state; the failed ones run on at the source (or are gone, the killed
 * one); nothing is left behind, and the daemons serve one more migration afterwards. The image-proxy lets its
 * default {@code --max-concurrent-dumps} (two per core: 4 here) run, frozen, at once; the others wait their turn
 * unfrozen. With all sixteen frozen at once on this machine, sources stayed frozen up to 22 s under load, close to
 * the TCP clients' 30 s socket timeout.
 *
 * <p>Why sixteen fit this machine (2 cores, 24 GiB): the workloads hold about 0.9 GiB on the source, the cache holds
 * at most its {@code --max-memory} (1536 MiB), and the too-big workload 2 GiB that is never dumped.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ConcurrentMigrationsIT {

    private static final int OCTET = 40;
    private static final int MAX_MEMORY_MIB = 1536;
    /** Larger than {@link #MAX_MEMORY_MIB} on its own: refused whatever the others hold. */
    private static final int TOO_BIG_MIB = 2048;
    private static final long MIGRATIONS_WITHIN_MS = 150_000;
    /** The image-proxy's default --max-concurrent-dumps: how many of the sixteen are frozen at once. */
    private static final int MAX_CONCURRENT_DUMPS = Math.max(2, 2 * Runtime.getRuntime().availableProcessors());
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.NONE, true, true);

    enum Kind { TICKER, TCP, KILLED, RESTORE_FAILS, TOO_BIG }

    /** One workload and its migration. */
    private static final class Slot {
        final int index;
        final int mib;
        final Kind kind;
        final ReplyLog ticks;
        final ReplyLog replies;
        long pid;
        Workload workload; // null for RESTORE_FAILS, which runs outside a PID namespace of its own
        Process plain;
        FerryRun run;
        FerryResult result;
        long atMigrate;

        Slot(LabFixture fx, int index, int mib, Kind kind) {
            this.index = index;
            this.mib = mib;
            this.kind = kind;
            this.ticks = new ReplyLog(fx.path("conc-" + index + ".ticks.log"));
            this.replies = hasClient() ? new ReplyLog(fx.path("conc-" + index + ".replies.log")) : null;
        }

        boolean hasClient() {
            return kind == Kind.TCP || kind == Kind.RESTORE_FAILS;
        }

        String vip() {
            return "10.231." + OCTET + "." + (100 + index);
        }

        int port() {
            return 7500 + index;
        }

        String snapshot() {
            return "conc-" + index;
        }

        /** A string only this slot's processes have on their command line. */
        String marker() {
            return ticks.log().getFileName().toString();
        }

        boolean sourceRuns() {
            return workload != null ? workload.isRunning() : plain.isAlive();
        }

        @Override
        public String toString() {
            return snapshot() + " (" + kind + ", " + mib + " MiB, pid " + pid + ")";
        }
    }

    @Test
    void sixteenMigrationsAtOnceThroughOnePair_failuresStayIsolated_nothingLeftBehind() throws Exception {
        LabFixture fx = LAB.fx();
        fx.daemons().cacheOptions("--max-memory", MAX_MEMORY_MIB + "M").start();
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        Path script = fx.script("memservice.py");

        // 13 healthy (6 tickers, 7 TCP services with a client and a moved address), then the three failures
        int[] sizes = {8, 16, 24, 32, 48, 64, 128, 8, 16, 32, 64, 96, 128};
        List<Slot> slots = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            slots.add(new Slot(fx, i, sizes[i], i % 2 == 0 ? Kind.TCP : Kind.TICKER));
        }
        Slot killed = new Slot(fx, 13, 128, Kind.KILLED);
        Slot restoreFails = new Slot(fx, 14, 16, Kind.RESTORE_FAILS);
        Slot tooBig = new Slot(fx, 15, TOO_BIG_MIB, Kind.TOO_BIG);
        slots.addAll(List.of(killed, restoreFails, tooBig));

        for (Slot s : slots) {
            start(fx, source, script, s);
        }
        for (Slot s : slots) {
            s.ticks.await(fx, 10, 60_000, "from " + s + " before the migrations");
            if (s.replies != null) {
                s.replies.await(fx, 20, 15_000, "from the client of " + s + " before the migrations");
            }
        }

        long started = System.currentTimeMillis();
        for (Slot s : slots) {
            List<String> args = new ArrayList<>(List.of("-D", s.snapshot()));
            if (s.hasClient()) {
                args.addAll(List.of("--tcp-established", "--move-ip", s.vip() + "/32"));
            }
            s.run = fx.startMigrate(s.pid, args.toArray(String[]::new));
        }
        killWhileDumped(fx, killed);
        for (Slot s : slots) {
            long left = Math.max(1_000, started + MIGRATIONS_WITHIN_MS - System.currentTimeMillis());
            s.result = s.run.await(java.time.Duration.ofMillis(left));
            s.atMigrate = s.ticks.lastN();
            if (s.result.exitCode() == 0) {
                fx.adopt(NodeState.restoredPid(s.result.stdout()));
            }
        }
        long wallMs = System.currentTimeMillis() - started;
        for (Slot s : slots) {
            assertFalse(s.result.timedOut(), () -> "ferry migrate of " + s + " did not end within "
                    + MIGRATIONS_WITHIN_MS + " ms\n" + s.result.describe() + fx.diagnostics());
        }

        for (Slot s : slots) {
            switch (s.kind) {
                case TICKER, TCP -> assertMigrated(fx, source, target, s);
                case KILLED -> assertKilledLeftNothing(fx, target, s);
                case RESTORE_FAILS -> assertRolledBack(fx, source, target, s, "File exists");
                case TOO_BIG -> assertRefusedUntouched(fx, target, s);
            }
        }

        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source");
        assertEquals(List.of(), target.lockRules(), "lock rules on the target");
        String runDir = fx.daemons().targetRunDir().toString();
        FerryResult ls = fx.ferry(fx.lab().targetNs(), List.of("images", "ls", "--run-dir", runDir));
        assertTrue(ls.stdout().contains("no snapshots held"), () -> "the image-cache still holds snapshots\n"
                + ls.describe());
        assertTrue(fx.daemons().cacheAlive() && fx.daemons().proxyAlive(), "a daemon died" + fx.diagnostics());

        Slot after = new Slot(fx, 16, 8, Kind.TICKER);
        start(fx, source, script, after);
        after.ticks.await(fx, 10, 15_000, "from " + after + " before the migration");
        FerryResult again = fx.migrate(after.pid, "-D", after.snapshot());
        assertEquals(0, again.exitCode(), () -> "the daemons do not serve a migration after the sixteen\n"
                + again.describe() + fx.diagnostics());
        after.result = again;
        after.atMigrate = after.ticks.lastN();
        fx.adopt(NodeState.restoredPid(again.stdout()));
        assertMigrated(fx, source, target, after);

        StringBuilder summary = new StringBuilder();
        long bytes = 0;
        for (Slot s : slots) {
            summary.append(String.format("%n  %-40s exit %d after %6d ms  %s", s, s.result.exitCode(),
                    s.result.elapsedMillis(), s.result.exitCode() == 0 ? firstLine(s.result.stdout())
                            : errorLine(s.result.stderr())));
            bytes += s.result.exitCode() == 0 ? bytesOf(s.result.stdout()) : 0;
        }
        long queued = slots.stream().filter(s -> s.result.stderr().contains("migrate: queued")).count();
        System.out.printf("ConcurrentMigrationsIT: %d migrations in %d ms wall (at most %d frozen at once, %d waited"
                + " their turn), %d MiB moved by the successful ones (%.0f MB/s aggregate)%s%n", slots.size(), wallMs,
                MAX_CONCURRENT_DUMPS, queued, bytes >> 20, bytes / 1e3 / wallMs, summary);
    }

    /** Starts the slot's workload (and its client) in the source node. */
    private static void start(LabFixture fx, NodeState source, Path script, Slot s) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString(), Integer.toString(s.mib),
                s.ticks.log().toString()));
        if (s.hasClient()) {
            source.addAddress(s.vip() + "/32");
            command.addAll(List.of(s.vip(), Integer.toString(s.port())));
        }
        Path out = fx.path("conc-" + s.index + ".out.log");
        if (s.kind == Kind.RESTORE_FAILS) {
            // Not in a PID namespace of its own: its PID is still taken (by itself, frozen) when the target restores,
            // so CRIU's restore there fails with "Can't fork for PID: File exists", after the address was added.
            List<String> setsid = new ArrayList<>(List.of("setsid"));
            setsid.addAll(command);
            s.plain = fx.startIn(fx.lab().sourceNs(), setsid, out);
            s.pid = s.plain.pid();
        } else {
            s.workload = fx.startWorkload(command, out);
            s.pid = s.workload.pid();
        }
        if (s.hasClient()) {
            fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("counter_client.py").toString(),
                    s.vip(), Integer.toString(s.port()), "0.02", s.replies.log().toString(), "240"),
                    fx.path("conc-" + s.index + ".client.log"));
        }
    }

    /** SIGKILLs the slot's workload once its migration reports CRIU at work (it is being frozen and dumped). */
    private static void killWhileDumped(LabFixture fx, Slot s) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (!(s.run.stderrSoFar().contains("migrate: criu") || s.run.stderrSoFar().contains("migrate: stream"))) {
            if (!s.run.process().isAlive()) {
                fail("ferry migrate of " + s + " ended before its dump began\n" + s.run.await(
                        java.time.Duration.ofSeconds(5)).describe() + fx.diagnostics());
            }
            if (System.currentTimeMillis() > deadline) {
                fail("ferry migrate of " + s + " did not reach its dump within 60 s\n" + s.run.stderrSoFar()
                        + fx.diagnostics());
            }
            Thread.sleep(5);
        }
        s.workload.kill();
    }

    private static void assertMigrated(LabFixture fx, NodeState source, NodeState target, Slot s) throws Exception {
        assertEquals(0, s.result.exitCode(), () -> "ferry migrate of " + s + " failed\n" + s.result.describe()
                + fx.diagnostics());
        long restored = NodeState.restoredPid(s.result.stdout());
        assertTrue(ProcFs.awaitGone(s.pid, 5_000), () -> s + " still runs on the source after its migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), () -> s + ": restored pid " + restored
                + " is not in the target");
        s.ticks.await(fx, s.atMigrate + 25, 30_000, "from " + s + " after its migration (last tick before: "
                + s.atMigrate + ")");
        assertEquals(List.of(), s.ticks.discontinuities(), () -> s + ": the counter did not continue (restarted?)");
        if (s.replies != null) {
            long at = s.replies.lastN();
            s.replies.await(fx, at + 10, 20_000, "from the client of " + s + " after its migration");
            assertTrue(s.replies.errors().isEmpty(), () -> s + ": the client's connection broke: "
                    + s.replies.errors() + fx.diagnostics());
            assertEquals(List.of(), s.replies.discontinuities(), () -> s + ": lost or duplicated replies");
            assertFalse(source.hasAddress(s.vip()), () -> s + ": the service address is still on the source");
            assertTrue(target.hasAddress(s.vip()), () -> s + ": the service address is not on the target");
        }
        assertEquals(List.of(), source.processes(s.marker()), () -> s + ": something of it remains on the source");
    }

    private static void assertKilledLeftNothing(LabFixture fx, NodeState target, Slot s) throws Exception {
        assertNotEquals(0, s.result.exitCode(), () -> "the migration of the killed " + s + " succeeded\n"
                + s.result.describe());
        assertFalse(s.result.stderr().isBlank(), () -> s + ": failed without a message\n" + s.result.describe());
        assertFalse(s.sourceRuns(), () -> s + ": the killed workload runs again on the source");
        assertEquals(List.of(), target.processes(s.marker()), () -> s + ": the killed workload runs on the target");
    }

    private static void assertRolledBack(LabFixture fx, NodeState source, NodeState target, Slot s, String reason)
            throws Exception {
        assertNotEquals(0, s.result.exitCode(), () -> s + ": the migration should have failed on the target\n"
                + s.result.describe());
        assertTrue(s.result.stderr().contains(reason), () -> s + ": the reason (" + reason + ") is not shown\n"
                + s.result.describe());
        assertTrue(s.result.stderr().contains("keeps running"), () -> s.result.describe());
        assertSourceRunsOn(fx, s);
        assertTrue(source.hasAddress(s.vip()), () -> s + ": the source lost its service address");
        assertFalse(target.hasAddress(s.vip()), () -> s + ": the target kept the address of a failed restore");
        assertEquals(List.of(), target.processes(s.marker()), () -> s + ": a process is left on the target");
    }

    private static void assertRefusedUntouched(LabFixture fx, NodeState target, Slot s) throws Exception {
        assertNotEquals(0, s.result.exitCode(), () -> s + ": should have been refused for memory\n"
                + s.result.describe());
        assertTrue(s.result.stderr().contains("--max-memory") && s.result.stderr().contains("was not touched"),
                () -> s + ": the refusal does not name --max-memory or does not say the process was not touched\n"
                        + s.result.describe());
        assertSourceRunsOn(fx, s);
        assertTrue(LogTail.grep(fx.daemons().cacheLog(), "snapshot " + s.snapshot() + ": refused", 1)
                .contains("refused"), () -> s + ": the image-cache did not log the refusal" + fx.diagnostics());
        assertFalse(LogTail.grep(fx.daemons().proxyLog(), "snapshot " + s.snapshot() + ": dump of pid", 1)
                .contains("dump of pid"), () -> s + ": the image-proxy started CRIU for a migration the image-cache"
                + " refused" + fx.diagnostics());
        assertEquals(List.of(), target.processes(s.marker()), () -> s + ": a process is left on the target");
    }

    /** The source process runs on: ticks go on with no restart, and its client (if any) saw nothing. */
    private static void assertSourceRunsOn(LabFixture fx, Slot s) throws Exception {
        assertTrue(s.sourceRuns(), () -> s + ": the source process is not running after its failed migration"
                + fx.diagnostics());
        s.ticks.await(fx, s.atMigrate + 25, 20_000, "from " + s + " on the source after its failed migration");
        assertEquals(List.of(), s.ticks.discontinuities(), () -> s + ": the counter restarted");
        if (s.replies != null) {
            long at = s.replies.lastN();
            s.replies.await(fx, at + 10, 20_000, "from the client of " + s + " after the failed migration");
            assertTrue(s.replies.errors().isEmpty(), () -> s + ": the client's connection broke: "
                    + s.replies.errors() + fx.diagnostics());
            assertEquals(List.of(), s.replies.discontinuities(), () -> s + ": lost or duplicated replies");
        }
    }

    private static String firstLine(String text) {
        String t = text.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }

    private static String errorLine(String stderr) {
        return stderr.lines().filter(l -> l.contains("error:")).findFirst().orElse(firstLine(stderr));
    }

    private static long bytesOf(String stdout) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("images, (\\d+) bytes").matcher(stdout);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
