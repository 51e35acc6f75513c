package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
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
 * The link between image-proxy and image-cache drops in the middle of a migration's transfer: a {@link LinkCutRelay}
 * in the source node resets the connection after 48 MiB of a 256 MiB process and keeps the link down for a while.
 * With the link back within the proxy's {@code --retry-for} budget the proxy reattaches the snapshot and the
 * migration succeeds, the memory checked byte for byte (memhold.py's checksum) and its counter continuing on the
 * target; with the link down past the budget the migration rolls back: the source runs on with the same memory, the
 * target keeps nothing, and the daemons serve the next migration. Plain TCP ({@code --insecure}) through the relay.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ResumeIT {

    private static final int OCTET = 50;
    private static final int SIZE_MIB = 256;
    private static final int CUT_AFTER_MIB = 48;
    private static final String RETRY_FOR = "4s";
    /** A cut well inside the budget. */
    private static final long SHORT_CUT_MS = 2_000;
    /** A cut well past the budget (and past the cache's budget plus grace, so nothing can reattach). */
    private static final long LONG_CUT_MS = 12_000;
    /** The cache drops a parked snapshot after the budget plus 5 s of grace; a margin on top. */
    private static final long TARGET_EMPTY_WITHIN_MS = 15_000;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.NONE, true);

    private static boolean proxyOptionsSet;
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
                if (relay != null) {
                    relay.stop();
                }
            }
        }
    }

    @Test
    void linkCutFor2sMidTransfer_proxyReattaches_migrationSucceedsWithSameMemory() throws Exception {
        LabFixture fx = LAB.fx();
        behindRelay(fx, 27150, SHORT_CUT_MS, "relay-short.log");
        Held held = Held.start(fx, "short");

        FerryResult migrate = fx.migrate(held.workload.pid());
        String cut = relay.grep("CUT connection", 1);
        assertTrue(cut.contains("CUT"), () -> "the relay never cut the link: the migration moved less than "
                + CUT_AFTER_MIB + " MiB?\n" + migrate.describe() + relay.diagnostics() + fx.diagnostics());
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate failed although the link came back within --retry-for "
                + RETRY_FOR + "\n" + migrate.describe() + relay.diagnostics() + fx.diagnostics());
        long restored = fx.adopt(NodeState.restoredPid(migrate.stdout()));
        String reconnecting = LogTail.grep(fx.daemons().proxyLog(), "reconnecting (attempt", 3);
        assertTrue(reconnecting.contains("link to cache lost at image"), () -> "the image-proxy did not log its"
                + " reconnects\n" + fx.diagnostics());
        String reattached = LogTail.grep(fx.daemons().cacheLog(), "reattached by", 1);
        assertTrue(reattached.contains("reattached"), () -> "the image-cache did not log the reattach" + fx.diagnostics());
        assertTrue(migrate.stderr().contains("reconnecting") || migrate.stdout().contains("reconnecting"),
                () -> "ferry migrate did not show the reconnect in its progress\n" + migrate.describe());

        assertTrue(ProcFs.awaitGone(held.workload.pid(), 5_000), "the source still runs after a successful migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored
                + " is not in the target");
        long lastBefore = held.sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        Optional<ChecksumLog.Entry> later = held.sums.awaitEntry(lastBefore + 3, Duration.ofSeconds(30));
        assertTrue(later.isPresent(), () -> "the restored process logged no new checksum after line " + lastBefore
                + fx.diagnostics());
        assertEquals(List.of(), held.sums.mismatches(held.sha), "memory changed across the resumed migration");
        System.out.printf("ResumeIT short cut: relay %s%n  proxy:%n%s%n  cache: %s%n  migrate %d ms: %s%n",
                cut.strip(), reconnecting.strip(), reattached.strip(), migrate.elapsedMillis(), migrate.stdout().strip());
    }

    @Test
    void linkCutPastTheBudget_migrationRollsBack_targetKeepsNothing_daemonsServeTheNext() throws Exception {
        LabFixture fx = LAB.fx();
        behindRelay(fx, 27151, LONG_CUT_MS, "relay-long.log");
        Held held = Held.start(fx, "long");

        FerryResult migrate = fx.migrate(held.workload.pid(), "--snapshot", "long-cut");
        long failedAt = System.currentTimeMillis();
        assertTrue(relay.grep("CUT connection", 1).contains("CUT"), () -> "the relay never cut the link\n"
                + migrate.describe() + relay.diagnostics() + fx.diagnostics());
        assertNotEquals(0, migrate.exitCode(), () -> "ferry migrate succeeded although the link stayed down past"
                + " --retry-for " + RETRY_FOR + "\n" + migrate.describe() + fx.diagnostics());
        assertTrue(migrate.stderr().contains("gave up after"), () -> "ferry migrate does not say it gave up"
                + " reconnecting\n" + migrate.describe());
        assertTrue(migrate.stderr().contains("keeps running"), () -> "ferry migrate does not say the source keeps"
                + " running\n" + migrate.describe());

        assertTrue(held.workload.isRunning(), () -> "the source is not running after the rollback" + fx.diagnostics());
        long lastAtFailure = held.sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        assertTrue(held.sums.awaitEntry(lastAtFailure + 2, Duration.ofSeconds(30)).isPresent(),
                () -> "the source logged no new checksum after the rollback" + fx.diagnostics());
        assertEquals(List.of(), held.sums.mismatches(held.sha), "source memory changed across the rollback");

        String runDir = fx.daemons().targetRunDir().toString();
        String listing = "";
        while (System.currentTimeMillis() - failedAt < TARGET_EMPTY_WITHIN_MS) {
            listing = fx.ferry(fx.lab().targetNs(), List.of("images", "ls", "--run-dir", runDir)).stdout();
            if (!listing.contains("long-cut")) {
                break;
            }
            Thread.sleep(500);
        }
        String finalListing = listing;
        assertFalse(listing.contains("long-cut"), () -> "the target still holds the partial snapshot "
                + TARGET_EMPTY_WITHIN_MS + " ms after the rollback:\n" + finalListing + fx.diagnostics());
        assertTrue(LogTail.grep(fx.daemons().cacheLog(), "no reattach", 1).contains("dropped"),
                () -> "the image-cache did not log that it dropped the partial snapshot" + fx.diagnostics());
        assertTrue(fx.daemons().cacheAlive() && fx.daemons().proxyAlive(), "a daemon died with the link");

        // the relay's one cut is spent; once its link is up again the same daemons migrate the same process
        String cutLine = relay.grep("CUT connection", 1).strip();
        java.time.Instant cutAt = java.time.Instant.parse(cutLine.substring(cutLine.indexOf(' ') + 1,
                cutLine.indexOf(" CUT")).strip());
        long upInMillis = cutAt.toEpochMilli() + LONG_CUT_MS + 500 - System.currentTimeMillis();
        if (upInMillis > 0) {
            Thread.sleep(upInMillis);
        }
        FerryResult again = fx.migrate(held.workload.pid(), "--snapshot", "after-cut");
        assertEquals(0, again.exitCode(), () -> "the migration after the rolled-back one failed\n" + again.describe()
                + fx.diagnostics());
        long restored = fx.adopt(NodeState.restoredPid(again.stdout()));
        assertTrue(ProcFs.awaitGone(held.workload.pid(), 5_000), "the source still runs after the second migration");
        long lastBefore = held.sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        assertTrue(held.sums.awaitEntry(lastBefore + 3, Duration.ofSeconds(30)).isPresent(),
                () -> "restored pid " + restored + " logged no new checksum" + fx.diagnostics());
        assertEquals(List.of(), held.sums.mismatches(held.sha), "memory changed across the second migration");
        System.out.printf("ResumeIT long cut: migrate exit %d after %d ms: %s%n  then migrated in %d ms%n",
                migrate.exitCode(), migrate.elapsedMillis(), migrate.stderr().strip(), again.elapsedMillis());
    }

    /** memhold.py holding {@value #SIZE_MIB} MiB of pseudo-random memory, logging its checksum and a counter. */
    private record Held(Workload workload, ChecksumLog sums, String sha) {
        static Held start(LabFixture fx, String name) throws Exception {
            ChecksumLog sums = new ChecksumLog(fx.path(name + ".sha"), fx.path(name + ".sums.log"));
            Workload w = fx.startWorkload(List.of("/usr/bin/python3", fx.script("memhold.py").toString(),
                    Integer.toString(SIZE_MIB), fx.path(name + ".sha").toString(), sums.log().toString(), "0.5"),
                    fx.path(name + ".out.log"));
            Optional<String> sha = sums.awaitFirstSha(Duration.ofSeconds(90));
            assertTrue(sha.isPresent(), () -> "memhold.py never wrote its checksum\n" + fx.diagnostics());
            assertTrue(sums.awaitEntry(1, Duration.ofSeconds(20)).isPresent(), "memhold.py logs no checksums");
            return new Held(w, sums, sha.get());
        }
    }

    /** Starts the relay with a cut of {@code downMillis}, and both daemons on a plain link through it. */
    private void behindRelay(LabFixture fx, int port, long downMillis, String log) throws Exception {
        relay = RelayProcess.start(fx, fx.lab().sourceNs(), LinkCutRelay.class, port,
                LinkCutRelay.mode(downMillis, CUT_AFTER_MIB), log, LinkCutRelay.DEFAULT_TIMEOUT_SECONDS);
        if (!proxyOptionsSet) {
            fx.daemons().proxyOptions("--retry-for", RETRY_FOR);
            proxyOptionsSet = true;
        }
        fx.daemons().insecure(true).proxyTarget("127.0.0.1", port).start();
    }
}
