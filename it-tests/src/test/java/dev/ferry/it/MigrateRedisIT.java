package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * redis-server holding about 200 MB moves with its address while a client on a third node runs INCR every 10 ms on
 * one connection: the data set's digest is unchanged and the INCR sequence has no gap and no error.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MigrateRedisIT {

    private static final int OCTET = 19;
    private static final String VIP = "10.231." + OCTET + ".100";
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.BOTH, true, true);

    @Test
    void redisWith200MBMovesWithItsClientConnected() throws Exception {
        Path redis = Path.of("/usr/bin/redis-server");
        if (!Files.isExecutable(redis) || !Files.isExecutable(Path.of("/usr/bin/redis-cli"))) {
            fail("redis-server and redis-cli are missing: run scripts/install-criu, which installs them");
        }
        LabFixture fx = LAB.fx();
        NodeState source = new NodeState(fx, fx.lab().sourceNs());
        NodeState target = new NodeState(fx, fx.lab().targetNs());
        source.addAddress(VIP + "/32");
        Path dir = fx.path("redis");
        Files.createDirectories(dir);
        Workload server = fx.startWorkload(List.of(redis.toString(), "--bind", VIP, "--port", "6379", "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--enable-debug-command", "yes", "--dir", dir.toString(),
                "--daemonize", "no"), fx.path("redis.out.log"));
        awaitPing(fx);
        cli(fx, "DEBUG", "POPULATE", "200000", "key", "1000");
        String digest = cli(fx, "DEBUG", "DIGEST").trim();
        long rssKiB = ProcFs.rssKiB(server.pid());
        assertTrue(rssKiB > 190_000, "redis holds only " + rssKiB + " KiB after DEBUG POPULATE");

        ReplyLog incr = new ReplyLog(fx.path("redis.incr.log"));
        Process client = fx.startIn(fx.lab().clientNs(), List.of("/usr/bin/python3", fx.script("redis_incr.py").toString(), VIP, "6379",
                "0.01", incr.log().toString(), "120"), fx.path("redis-client.out.log"));
        incr.await(LAB.fx(), 50, 15_000, "before the migration");

        FerryResult migrate = fx.migrate(server.pid(), "--tcp-established", "--move-ip", VIP + "/32");
        assertEquals(0, migrate.exitCode(), () -> "ferry migrate of redis failed\n" + migrate.describe() + fx.diagnostics());
        long restored = fx.adopt(NodeState.restoredPid(migrate.stdout()));
        long atMigrate = incr.lastN();
        assertTrue(ProcFs.awaitGone(server.pid(), 5_000), "redis still runs on the source");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "the restored redis is not in the target");
        incr.await(LAB.fx(), atMigrate + 100, 20_000, "after the migration (last INCR before: " + atMigrate + ")");
        assertTrue(incr.errors().isEmpty(), () -> "the INCR client saw errors: " + incr.errors() + fx.diagnostics());
        assertEquals(List.of(), incr.discontinuities(), "the INCR sequence has gaps or repeats");

        client.destroyForcibly(); // stop the INCRs before the key is deleted for the digest
        assertTrue(client.waitFor(5, TimeUnit.SECONDS), "the INCR client did not stop");
        String value = cli(fx, "GET", "ferry:ctr").trim();
        assertTrue(Long.parseLong(value) >= atMigrate + 100, "ferry:ctr is " + value);
        cli(fx, "DEL", "ferry:ctr");
        assertEquals(digest, cli(fx, "DEBUG", "DIGEST").trim(), "the data set changed across the migration");
        assertFalse(source.hasAddress(VIP), "the service address is still on the source");
        assertTrue(target.hasAddress(VIP), "the service address is not on the target");
        assertEquals(List.of(), source.lockRules(), "CRIU's network lock is left on the source");
        System.out.printf("MigrateRedisIT: longest INCR gap %d ms, redis RSS %d MiB%n%s%n", incr.maxGapMillis(),
                rssKiB / 1024, migrate.stdout());
    }

    private static void awaitPing(LabFixture fx) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (System.currentTimeMillis() < deadline) {
            try {
                if (cli(fx, "PING").contains("PONG")) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not up yet
            }
            Thread.sleep(100);
        }
        fail("redis-server did not answer PING on " + VIP + " within 15 s" + fx.diagnostics());
    }

    private static String cli(LabFixture fx, String... command) throws Exception {
        List<String> argv = new java.util.ArrayList<>(List.of("redis-cli", "-h", VIP, "-p", "6379"));
        argv.addAll(List.of(command));
        return fx.runIn(fx.lab().clientNs(), argv.toArray(String[]::new));
    }
}
