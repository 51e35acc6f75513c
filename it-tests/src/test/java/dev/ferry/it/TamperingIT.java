package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.LogTail;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Integrity end to end: a man in the middle ({@link BitFlipRelay}, its own process in the source node)
 * flips one bit of the images on their way from the image-proxy to the image-cache. On a plain
 * {@code --insecure} link the cache's CRC32C check catches it (exit 8 INTEGRITY); on the mutual TLS link
 * TLS catches it (bad record MAC, the connection breaks: exit 6). Either way the source keeps running
 * with its memory unchanged and the cache serves nothing under the snapshot's name (restore: exit 9).
 *
 * <p>The proxy dials the relay on 127.0.0.1 in its own netns; the relay dials the cache on the target
 * node's address. The cache's certificate therefore also names 127.0.0.1.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TamperingIT {

    private static final int SIZE_MIB = 48;
    private static final String SNAPSHOT = "tampered";
    private static LabFixture fx;
    private RelayProcess relay;

    @BeforeAll
    static void startLab() throws Exception {
        fx = LabFixture.create(TamperingIT.class, 17);
        ItEnvironment.requirePython();
        fx.daemons().addCacheSan("127.0.0.1");
    }

    @AfterEach
    void stopEverything() throws Exception {
        if (fx == null) {
            return;
        }
        try {
            fx.killProcesses();
        } finally {
            try {
                fx.daemons().close();
            } finally {
                if (relay != null) {
                    relay.stop();
                }
            }
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (fx != null) {
            fx.close();
        }
    }

    @Test
    void insecureLink_flippedBitInImageData_dumpFailsWithIntegrity_sourceRuns_nothingServed() throws Exception {
        relay = startRelay(27101, "frames", "relay-plain.log");
        fx.daemons().insecure(true).proxyTarget("127.0.0.1", 27101).start();

        Run run = dumpThroughRelay("plain");
        FerryResult dump = run.dump;
        String flip = flipLine();
        assertTrue(flip.contains("IMAGE_DATA"), () -> "the relay flipped something else: " + flip);

        assertEquals(8, dump.exitCode(), () -> "ferry dump through a bit-flipping relay on an --insecure link should"
                + " fail with exit 8 (INTEGRITY)\n" + dump.describe() + relay.diagnostics() + fx.diagnostics());
        assertTrue(dump.stderr().contains("INTEGRITY") && dump.stderr().toLowerCase().contains("crc32c"),
                () -> "ferry dump's message does not name the integrity failure (INTEGRITY, CRC32C mismatch)\n"
                        + dump.describe());
        assertTrue(LogTail.grep(fx.daemons().cacheLog(), "INTEGRITY", 5).contains("INTEGRITY")
                        || LogTail.grep(fx.daemons().cacheLog(), "crc32c", 5).contains("crc32c"),
                () -> "the image-cache logged no integrity failure\n" + fx.diagnostics());

        run.assertSourceUnharmed();
        assertNotServed(8, "INTEGRITY: the cache keeps it marked BAD, never served");
        System.out.printf("TamperingIT plain: relay %s%n  dump exit %d after %d ms: %s%n", flip.strip(), dump.exitCode(),
                dump.elapsedMillis(), dump.stderr().strip());
    }

    @Test
    void mutualTlsLink_flippedBitInTlsRecord_connectionBreaks_sourceRuns_nothingServed() throws Exception {
        relay = startRelay(27102, "offset", "relay-tls.log");
        fx.daemons().insecure(false).proxyTarget("127.0.0.1", 27102).start();

        Run run = dumpThroughRelay("tls");
        FerryResult dump = run.dump;
        String flip = flipLine();

        assertEquals(6, dump.exitCode(), () -> "ferry dump through a bit-flipping relay on a mutual TLS link should"
                + " fail with exit 6 (the connection breaks)\n" + dump.describe() + relay.diagnostics()
                + fx.diagnostics());
        assertFalse(dump.stderr().isBlank(), "ferry dump failed without a message on stderr");
        assertTrue(dump.stderr().contains("image-cache"), () -> "ferry dump's message does not say the link to the"
                + " image-cache broke\n" + dump.describe());
        assertFalse(dump.stderr().contains(": null"), () -> "ferry dump's message gives no reason\n" + dump.describe());
        assertTrue(LogTail.grep(fx.daemons().cacheLog(), "dropped", 5).contains(SNAPSHOT),
                () -> "the cache logged nothing about the broken link\n" + fx.diagnostics());

        run.assertSourceUnharmed();
        assertNotServed(9, "NOT_FOUND: the broken connection dropped it");
        System.out.printf("TamperingIT tls: relay %s%n  dump exit %d after %d ms: %s%n  cache log: %s%n", flip.strip(),
                dump.exitCode(), dump.elapsedMillis(), dump.stderr().strip(),
                LogTail.grep(fx.daemons().cacheLog(), "WARN", 5).strip());
    }

    /** A workload holding SIZE_MIB of memory, dumped as {@link #SNAPSHOT} through the relay. */
    private Run dumpThroughRelay(String tag) throws Exception {
        Path script = fx.script("memhold.py");
        ChecksumLog sums = new ChecksumLog(fx.path(tag + ".sha"), fx.path(tag + ".sums.log"));
        Workload source = fx.startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                fx.path(tag + ".sha").toString(), sums.log().toString(), "0.3"), fx.path(tag + ".out.log"));
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(30));
        assertTrue(first.isPresent(), () -> "memhold.py never wrote its checksum\n" + fx.diagnostics());
        assertTrue(sums.awaitEntry(1, Duration.ofSeconds(10)).isPresent(), "memhold.py logs no checksums");
        FerryResult dump = fx.dump(source.pid(), SNAPSHOT);
        assertFalse(dump.timedOut(), () -> "ferry dump hung\n" + dump.describe() + fx.diagnostics());
        return new Run(source, sums, first.get(), dump);
    }

    private record Run(Workload source, ChecksumLog sums, String sha, FerryResult dump) {

        /** Still running, in its node, not frozen (new checksum lines) and with the same memory. */
        void assertSourceUnharmed() throws InterruptedException {
            assertTrue(source.isRunning(), () -> "the source process is gone after a failed dump (state "
                    + ProcFs.state(source.pid()) + ")" + fx.diagnostics());
            assertTrue(fx.lab().processInNode(source.pid(), fx.lab().sourceNs()), "source left its node");
            long lastAtFailure = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
            Optional<ChecksumLog.Entry> later = sums.awaitEntry(lastAtFailure + 2, Duration.ofSeconds(15));
            assertTrue(later.isPresent(), () -> "source logged no new checksum after the failed dump (state "
                    + ProcFs.state(source.pid()) + ", last line " + lastAtFailure + ")" + fx.diagnostics());
            List<ChecksumLog.Entry> bad = sums.mismatches(sha);
            assertTrue(bad.isEmpty(), () -> "source memory changed after the failed dump: expected " + sha + ", got " + bad);
            assertTrue(source.isRunning(), "source died after the failed dump");
        }
    }

    /** The cache serves no snapshot {@link #SNAPSHOT}: a restore of it exits 9 (NOT_FOUND). */
    private static void assertNotServed(int expectedExit, String why) throws Exception {
        FerryResult restore = fx.restore(SNAPSHOT, fx.path(SNAPSHOT + ".pid"));
        assertEquals(expectedExit, restore.exitCode(), () -> "the cache must not serve a tampered snapshot: ferry restore"
                + " should exit " + expectedExit + " (" + why + ")\n" + restore.describe() + fx.diagnostics());
        assertFalse(Files.exists(fx.path(SNAPSHOT + ".pid")), "a restore of the tampered snapshot wrote a pidfile");
    }

    /** Starts {@link BitFlipRelay} in the source node, listening on 127.0.0.1:{@code port}, relaying to the cache. */
    private static RelayProcess startRelay(int port, String mode, String logName) throws Exception {
        return RelayProcess.start(fx, fx.lab().sourceNs(), BitFlipRelay.class, port, mode, logName,
                BitFlipRelay.DEFAULT_TIMEOUT_SECONDS);
    }

    /** The relay's FLIP line; fails when it flipped nothing. */
    private String flipLine() {
        String flip = relay.grep("FLIP", 2);
        assertTrue(flip.contains("FLIP"), () -> "the relay flipped no bit\n" + relay.diagnostics()
                + fx.diagnostics());
        return flip;
    }
}
