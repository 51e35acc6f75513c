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

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Faults at the last instant of {@code ferry migrate}'s two-phase hand-over, while the target holds the restored tree
 * in CRIU's post-restore action (network still locked) and waits for SNAPSHOT_RESUME: the link is cut, the
 * image-proxy is killed, or the image-cache is killed. Each time the restored tree never runs, the source is resumed
 * at once with its address and its client's live connection, and neither node keeps an address, a lock rule or a
 * process of the tree (the address a dead image-cache added is removed by the next one it starts). The cut is also
 * made during a post-copy ({@code --lazy}) migration, whose source CRIU still holds the pages.
 *
 * <p>A {@link LinkFaultRelay} in the source node sits between the two daemons (the proxy dials it on 127.0.0.1, it
 * dials the cache) and acts on the cache's SNAPSHOT_HELD frame; the link is plain TCP ({@code --insecure}) so that it
 * can read the frames. The daemons and the relay are started for each test, and stopped after it.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MigrateFaultsIT {

    private static final int OCTET = 22;
    /** How long a source may take to serve again once its image-proxy is dead: the hook's own timeout is minutes. */
    private static final long RESUMED_WITHIN_MS = 10_000;
    /** How long the target may take to kill the held tree and remove the address after a cut link. */
    private static final long TARGET_CLEAN_AFTER_CUT_MS = 10_000;
    /** The same after the proxy's death: the cache first has to see the link close (the relay passes the close on). */
    private static final long TARGET_CLEAN_AFTER_KILL_MS = 15_000;
    /** How long until the cache's SNAPSHOT_HELD reaches the relay: dump, transfer, restore of a small Python server. */
    private static final long HELD_WITHIN_MS = 60_000;
    /** The cache's log line when the held tree is killed before it ran. */
    private static final String NOT_RESUMED = "not resumed";

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.NONE, true, true);
    @RegisterExtension
    static final PostCopyHost HOST = new PostCopyHost();

    private RelayProcess relay;

    @AfterEach
    void stopDaemonsAndRelay() throws Exception {
        LabFixture fx = LAB.fx();
        try {
            fx.killProcesses();
        } finally {
            try {
                fx.daemons().close();
                fx.daemons().proxyTarget(null, 0);
            } finally {
                stopRelay();
            }
        }
    }

    @Test
    void linkCutWhileTargetHoldsTheRestoredTree_sourceServesOn_targetTreeNeverRan() throws Exception {
        LabFixture fx = LAB.fx();
        Service service = serviceBehindRelay(fx, 27111, "cut", "relay-cut.log", 100, 7410);

        FerryResult migrate = fx.migrate(service.pid(), service.migrateArgs());
        String cut = assertCutLeftTheSourceServing(fx, service, migrate);
        long gapAtCut = service.replies.maxGapMillis();

        // Both nodes were left clean: the same server migrates, the proxy now dialing the cache directly.
        stopRelay();
        fx.daemons().stopProxy();
        fx.daemons().proxyTarget(null, 0).startProxy();
        FerryResult again = fx.migrate(service.pid(), service.migrateArgs());
        assertEquals(0, again.exitCode(), () -> "ferry migrate after the cut link failed: a node was not left clean\n"
                + again.describe() + fx.diagnostics());
        long atMigrate = service.replies.lastN();
        long restored = fx.adopt(NodeState.restoredPid(again.stdout()));
        assertTrue(ProcFs.awaitGone(service.pid(), 5_000), "the source process still runs after the second migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored
                + " is not in the target");
        service.replies.await(fx, atMigrate + 50, 20_000, "after the second migration (last reply before: "
                + atMigrate + ")");
        assertTrue(service.replies.errors().isEmpty(), () -> "the client's connection broke: " + service.replies.errors()
                + fx.diagnostics());
        assertEquals(List.of(), service.replies.discontinuities(), "lost or duplicated replies, or the counter restarted");
        assertFalse(service.source.hasAddress(service.vip), "the service address is still on the source");
        assertTrue(service.target.hasAddress(service.vip), "the service address is not on the target");
        assertEquals(List.of(), service.source.lockRules(), "CRIU's network lock is left on the source");
        assertEquals(List.of(), service.target.lockRules(), "CRIU's network lock is left on the target");
        System.out.printf("MigrateFaultsIT cut: relay %s%n  migrate exit %d after %d ms: %s%n  longest reply gap %d ms"
                + " across the cut, %d ms across both migrations%n%s%n", cut.strip(), migrate.exitCode(),
                migrate.elapsedMillis(), migrate.stderr().strip(), gapAtCut, service.replies.maxGapMillis(),
                again.stdout());
    }

    /**
     * The same cut with {@code --lazy}: the target holds a tree restored through {@code criu swrk} at its
     * post-restore notification, its pages still on the source. The refused notification makes CRIU kill the tree
     * before it ran; the proxy resets the source CRIU's page-server socket, so CRIU resumes the source instead of
     * ending it; no CRIU (dump, lazy-pages, swrk) and no image on tmpfs is left on either node.
     */
    @Test
    void lazyLinkCutWhileTargetHoldsTheRestoredTree_sourceServesOn_noCriuLeft() throws Exception {
        LabFixture fx = LAB.fx();
        Service service = serviceBehindRelay(fx, 27114, "cut", "relay-cut-lazy.log", 103, 7413);

        FerryResult migrate = fx.migrate(service.pid(), service.migrateArgs("--lazy"));
        String cut = assertCutLeftTheSourceServing(fx, service, migrate);
        // CRIU 4.2 would resume the source with the connection in TCP repair mode; the proxy takes it out first
        assertTrue(migrate.stderr().contains("taken out of CRIU's repair mode first and go on"), () -> "ferry migrate"
                + " --lazy does not say what became of the connection\n" + migrate.describe());
        PostCopyHost.waitUntil(() -> PostCopyHost.criuProcesses().isEmpty(), TARGET_CLEAN_AFTER_CUT_MS,
                "a CRIU process (dump, lazy-pages, swrk) is left " + TARGET_CLEAN_AFTER_CUT_MS + " ms after the cut");
        assertEquals(List.of(), HOST.leftInLazyDir(), "post-copy images left on tmpfs");
        System.out.printf("MigrateFaultsIT lazy cut: relay %s%n  migrate exit %d after %d ms: %s%n  longest reply gap"
                + " %d ms%n", cut.strip(), migrate.exitCode(), migrate.elapsedMillis(), migrate.stderr().strip(),
                service.replies.maxGapMillis());
    }

    @Test
    void proxyKilledWhileTargetHoldsTheRestoredTree_sourceResumesAtOnce() throws Exception {
        LabFixture fx = LAB.fx();
        Service service = serviceBehindRelay(fx, 27112, "swallow", "relay-swallow.log", 101, 7411);

        FerryRun run = fx.startMigrate(service.pid(), service.migrateArgs());
        String swallow = awaitSwallow(fx, run);
        long proxyPid = fx.daemons().proxyPid();
        Killed killed = killDuringTheHold(fx, service, run, proxyPid, "image-proxy");
        long atKill = killed.atKill();
        long resumedAfterMs = killed.resumedAfterMs();
        FerryResult migrate = killed.migrate();

        service.replies.await(fx, atKill + 50, 15_000, "after the image-proxy's death (last reply before: "
                + atKill + ")");
        service.assertServesOnTheSource(fx);
        assertTargetClean(fx, service, TARGET_CLEAN_AFTER_KILL_MS);
        System.out.printf("MigrateFaultsIT proxy killed: relay %s%n  first reply %d ms after the kill of image-proxy"
                + " pid %d; longest reply gap %d ms%n  migrate exit %d after %d ms: %s%n", swallow.strip(),
                resumedAfterMs, proxyPid, service.replies.maxGapMillis(), migrate.exitCode(), migrate.elapsedMillis(),
                migrate.stderr().strip());
    }

    @Test
    void cacheKilledWhileHoldingTheRestoredTree_treeNeverRuns_sourceResumes_addressSweptAtRestart() throws Exception {
        LabFixture fx = LAB.fx();
        Service service = serviceBehindRelay(fx, 27113, "swallow", "relay-cache-killed.log", 102, 7412);

        FerryRun run = fx.startMigrate(service.pid(), service.migrateArgs());
        String swallow = awaitSwallow(fx, run);
        long cachePid = fx.daemons().cachePid();
        Killed killed = killDuringTheHold(fx, service, run, cachePid, "image-cache");
        long atKill = killed.atKill();
        long resumedAfterMs = killed.resumedAfterMs();
        FerryResult migrate = killed.migrate();
        assertTrue(migrate.stderr().contains("keeps running"), () -> "ferry migrate does not say the source keeps"
                + " running\n" + migrate.describe());
        service.replies.await(fx, atKill + 50, 15_000, "after the image-cache's death (last reply before: " + atKill + ")");
        service.assertServesOnTheSource(fx);

        // With its image-cache gone, CRIU on the target still ends the held tree: the post-restore script reads
        // EOF where its verdict should come, fails, and CRIU kills the tree before it ran.
        long deadline = System.currentTimeMillis() + TARGET_CLEAN_AFTER_KILL_MS;
        while (!service.target.processes("counter_server.py").isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(List.of(), service.target.processes("counter_server.py"), () -> "the held tree still exists on"
                + " the target after its image-cache died" + fx.diagnostics());
        assertEquals(List.of(), service.target.lockRules(), "CRIU's lock is left on the target");
        // Nobody was left to take the address off the target; the next image-cache does, from its journal.
        assertTrue(service.target.hasAddress(service.vip), "expected the dead cache's quietly added address on the"
                + " target (the fault did not happen where this test means it to)");
        fx.daemons().startCache();
        assertFalse(service.target.hasAddress(service.vip), () -> "the restarted image-cache did not remove the"
                + " address its predecessor added for the unfinished migration" + fx.diagnostics());
        assertTrue(cacheLogged(fx, "left by migration"), () -> "the restarted image-cache did not say what it"
                + " removed" + fx.diagnostics());
        assertTrue(service.source.hasAddress(service.vip), "the source lost its service address");
        System.out.printf("MigrateFaultsIT cache killed: relay %s%n  first reply %d ms after the kill of image-cache"
                + " pid %d; longest reply gap %d ms%n  migrate exit %d after %d ms: %s%n  restarted cache: %s%n",
                swallow.strip(), resumedAfterMs, cachePid, service.replies.maxGapMillis(), migrate.exitCode(),
                migrate.elapsedMillis(), migrate.stderr().strip(), LogTail.grep(fx.daemons().cacheLog(),
                        "left by migration", 1).strip());
    }

    /**
     * After a migration whose link the relay cut at SNAPSHOT_HELD: it failed saying the source keeps running, the
     * source serves on with its connection, the target is clean and the cache still up. Returns the relay's CUT line.
     */
    private String assertCutLeftTheSourceServing(LabFixture fx, Service service, FerryResult migrate) throws Exception {
        adoptIfMigrated(fx, migrate);
        assertFalse(migrate.timedOut(), () -> "ferry migrate hung after the link was cut\n" + migrate.describe()
                + relay.diagnostics() + fx.diagnostics());
        String cut = faultLine("CUT", () -> migrate.describe() + fx.diagnostics());
        assertNotEquals(0, migrate.exitCode(), () -> "ferry migrate succeeded although the link was cut before"
                + " SNAPSHOT_HELD reached the proxy\n" + migrate.describe() + relay.diagnostics() + fx.diagnostics());
        assertTrue(migrate.stderr().contains("keeps running"), () -> "ferry migrate does not say that the source keeps"
                + " running\n" + migrate.describe());
        long atFailure = service.replies.lastN();
        service.replies.await(fx, atFailure + 50, 15_000, "after the cut (last reply before: " + atFailure + ")");
        service.assertServesOnTheSource(fx);
        assertTargetClean(fx, service, TARGET_CLEAN_AFTER_CUT_MS);
        assertTrue(fx.daemons().cacheAlive(), () -> "the image-cache died with the link" + fx.diagnostics());
        return cut;
    }

    /** What {@link #killDuringTheHold} saw: the client's last reply before, how soon it got one after, migrate's end. */
    private record Killed(long atKill, long resumedAfterMs, FerryResult migrate) { }

    /**
     * SIGKILLs {@code daemon} (its PID) while the target holds the restored tree, then checks that the source serves
     * again within {@link #RESUMED_WITHIN_MS} and that {@code ferry migrate} ends with an error and a message.
     */
    private Killed killDuringTheHold(LabFixture fx, Service service, FerryRun run, long pid, String daemon)
            throws Exception {
        long atKill = service.replies.lastN();
        long killedAtMillis = System.currentTimeMillis();
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);

        Optional<ReplyLog.Reply> first = awaitReplyAfter(service.replies, killedAtMillis, RESUMED_WITHIN_MS + 1_000);
        assertTrue(ProcFs.awaitGone(pid, 5_000), "the " + daemon + " (pid " + pid + ") survived SIGKILL");
        assertTrue(first.isPresent(), () -> "no reply within " + RESUMED_WITHIN_MS + " ms of the " + daemon + "'s death"
                + " (last reply: " + service.replies.lastN() + ", errors: " + service.replies.errors() + "): the source"
                + " was not resumed at once, as if the post-dump hook waited for its timeout" + relay.diagnostics()
                + fx.diagnostics());
        long resumedAfterMs = Math.round(first.get().time() * 1000) - killedAtMillis;
        assertTrue(resumedAfterMs <= RESUMED_WITHIN_MS, () -> "the first reply after the " + daemon + "'s death came "
                + resumedAfterMs + " ms after it (expected: <= " + RESUMED_WITHIN_MS + " ms)" + fx.diagnostics());

        FerryResult migrate = run.await(Duration.ofSeconds(60));
        assertFalse(migrate.timedOut(), () -> "ferry migrate hung after the " + daemon + " died\n" + migrate.describe());
        assertNotEquals(0, migrate.exitCode(), () -> "ferry migrate succeeded although the " + daemon + " died\n"
                + migrate.describe());
        assertFalse(migrate.stderr().isBlank(), () -> "ferry migrate failed without a message\n" + migrate.describe());
        return new Killed(atKill, resumedAfterMs, migrate);
    }

    /**
     * {@code counter_server.py} on a service address (VIP) of the source, in a PID namespace of its own, with
     * {@code counter_client.py} in the client node sending to it every 10 ms on one connection.
     */
    private record Service(String vip, Workload server, ReplyLog replies, NodeState source, NodeState target) {

        static Service start(LabFixture fx, int host, int port) throws Exception {
            String vip = "10.231." + OCTET + "." + host;
            NodeState source = new NodeState(fx, fx.lab().sourceNs());
            NodeState target = new NodeState(fx, fx.lab().targetNs());
            source.addAddress(vip + "/32");
            Workload server = fx.startWorkload(List.of("/usr/bin/python3", fx.script("counter_server.py").toString(),
                    vip, Integer.toString(port)), fx.path("server-" + port + ".out.log"));
            ReplyLog replies = new ReplyLog(fx.path("client-" + port + ".replies.log"));
            fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("counter_client.py").toString(), vip,
                    Integer.toString(port), "0.01", replies.log().toString(), "240"), fx.path("client-" + port
                    + ".out.log"));
            replies.await(fx, 50, 15_000, "before the migration");
            return new Service(vip, server, replies, source, target);
        }

        long pid() {
            return server.pid();
        }

        String[] migrateArgs(String... more) {
            List<String> args = new java.util.ArrayList<>(List.of("--tcp-established", "--move-ip", vip + "/32"));
            args.addAll(List.of(more));
            return args.toArray(String[]::new);
        }

        /** The server runs on in the source with its address, no lock left, and its client saw nothing. */
        void assertServesOnTheSource(LabFixture fx) throws Exception {
            assertTrue(server.isRunning(), () -> "the source process is not running (state " + ProcFs.state(pid())
                    + ")" + fx.diagnostics());
            assertTrue(fx.lab().processInNode(pid(), fx.lab().sourceNs()), "the source process left its node");
            assertTrue(replies.errors().isEmpty(), () -> "the client's connection broke: " + replies.errors()
                    + fx.diagnostics());
            assertEquals(List.of(), replies.discontinuities(), "lost or duplicated replies across the failed migration");
            assertTrue(source.hasAddress(vip), "the source lost its service address");
            assertEquals(List.of(), source.lockRules(), "CRIU's lock is left on the source");
        }
    }

    /**
     * Within {@code millis}: the target holds no process of the tree, no service address and no lock rule, and the
     * image-cache logged that the held tree was not resumed (killed before it ran).
     */
    private void assertTargetClean(LabFixture fx, Service service, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline && !(service.target.processes("counter_server.py").isEmpty()
                && !service.target.hasAddress(service.vip) && service.target.lockRules().isEmpty()
                && cacheLogged(fx, NOT_RESUMED))) {
            Thread.sleep(200);
        }
        assertEquals(List.of(), service.target.processes("counter_server.py"), () -> "the held tree still exists on"
                + " the target " + millis + " ms after the fault" + fx.diagnostics());
        assertFalse(service.target.hasAddress(service.vip), () -> "the target kept the service address"
                + fx.diagnostics());
        assertEquals(List.of(), service.target.lockRules(), "CRIU's lock is left on the target");
        assertTrue(cacheLogged(fx, NOT_RESUMED), () -> "the image-cache did not log that the held tree was '"
                + NOT_RESUMED + "'" + relay.diagnostics() + fx.diagnostics());
    }

    private static boolean cacheLogged(LabFixture fx, String needle) {
        return LogTail.grep(fx.daemons().cacheLog(), needle, 1).contains(needle);
    }

    /** Adopts the restored tree of a migration that succeeded against expectation, so that the test kills it. */
    private static void adoptIfMigrated(LabFixture fx, FerryResult migrate) {
        if (migrate.exitCode() == 0) {
            try {
                fx.adopt(NodeState.restoredPid(migrate.stdout()));
            } catch (AssertionError e) {
                // it printed no pid: nothing to adopt; the assertions that follow say what went wrong
            }
        }
    }

    /** The relay's line for its fault ({@code CUT} or {@code SWALLOW}); fails when it did not act. */
    private String faultLine(String fault, java.util.function.Supplier<String> context) {
        String line = relay.grep(fault + " connection", 1);
        if (!line.contains(fault)) {
            fail("the relay saw no SNAPSHOT_HELD (0x0d) frame from the image-cache, so no fault happened while the"
                    + " target held the restored tree (" + fault + " expected)" + relay.diagnostics() + "\n"
                    + context.get());
        }
        return line;
    }

    /** Waits for the relay's SWALLOW line while ferry migrate runs; fails when it ends first or after the wait. */
    private String awaitSwallow(LabFixture fx, FerryRun run) throws InterruptedException {
        long deadline = System.currentTimeMillis() + HELD_WITHIN_MS;
        while (!relay.grep("SWALLOW connection", 1).contains("SWALLOW")) {
            if (!run.process().isAlive()) {
                FerryResult ended = run.await(Duration.ofSeconds(5));
                adoptIfMigrated(fx, ended);
                fail("ferry migrate ended before the relay swallowed a SNAPSHOT_HELD frame\n" + ended.describe()
                        + relay.diagnostics() + fx.diagnostics());
            }
            if (System.currentTimeMillis() > deadline) {
                fail("the relay swallowed no SNAPSHOT_HELD frame within " + HELD_WITHIN_MS + " ms of ferry migrate\n"
                        + run.stdoutSoFar() + run.stderrSoFar() + relay.diagnostics() + fx.diagnostics());
            }
            Thread.sleep(10);
        }
        return relay.grep("SWALLOW connection", 1);
    }

    /** The first reply sent after {@code afterMillis} (by the client's clock, the same host's), waiting up to {@code millis}. */
    private static Optional<ReplyLog.Reply> awaitReplyAfter(ReplyLog replies, long afterMillis, long millis)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (true) {
            Optional<ReplyLog.Reply> first = replies.replies().stream().filter(r -> r.time() * 1000 > afterMillis)
                    .findFirst();
            if (first.isPresent() || !replies.errors().isEmpty() || System.currentTimeMillis() > deadline) {
                return first;
            }
            Thread.sleep(10);
        }
    }

    /**
     * The relay in {@code mode} on 127.0.0.1:{@code relayPort} of the source node, both daemons on a plain link through
     * it, and a {@link Service} on address {@code 10.231.22.<host>}, port {@code port}, with its client.
     */
    private Service serviceBehindRelay(LabFixture fx, int relayPort, String mode, String logName, int host, int port)
            throws Exception {
        relay = startRelay(fx, relayPort, mode, logName);
        fx.daemons().insecure(true).proxyTarget("127.0.0.1", relayPort).start();
        return Service.start(fx, host, port);
    }

    /** Starts {@link LinkFaultRelay} in the source node, listening on 127.0.0.1:{@code port}, relaying to the cache. */
    private static RelayProcess startRelay(LabFixture fx, int port, String mode, String logName) throws Exception {
        return RelayProcess.start(fx, fx.lab().sourceNs(), LinkFaultRelay.class, port, mode, logName,
                LinkFaultRelay.DEFAULT_TIMEOUT_SECONDS);
    }

    /** Stops the relay by its PID: SIGTERM, then SIGKILL. Idempotent. */
    private void stopRelay() throws InterruptedException {
        if (relay != null) {
            relay.stop();
        }
    }
}
