package dev.ferry.dump;

import dev.ferry.criu.ScriptedCriu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuOptions;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.SnapshotName;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DumpEngineTest {

    private static final byte[] PAGES = random(4 << 20, 1);
    private static final byte[] SECCOMP = random(12, 2);
    private static final byte[] PAGEMAP = random(254, 3);
    private static final byte[] INVENTORY = random(86, 4);

    @TempDir
    Path root;

    private final MemorySink sink = new MemorySink();

    private static DumpJob job(Duration commitTimeout, Duration timeout) {
        return new DumpJob(4242, SnapshotName.of("web1"),
                new CriuOptions(false, true, true, false, false, false, "nftables", null, List.of()), commitTimeout, timeout);
    }

    private static DumpJob job() {
        return job(Duration.ofSeconds(10), Duration.ofSeconds(30));
    }

    /** What CRIU 4.x does on a successful dump, in the order seen on the wire: several pipes open at once. */
    private static int successfulDump(Path wd, AtomicInteger hookExit) throws Exception {
        try (CriuDumpPeer criu = CriuDumpPeer.connect(wd)) {
            criu.log("(00.000100) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted");
            if (criu.runHook("pre-dump") != 0) {
                throw new AssertionError("pre-dump must exit 0");
            }
            FileChannel seccomp = criu.open("seccomp.img");
            CriuDumpPeer.writeAll(seccomp, SECCOMP); // stays open until the end, as in CRIU's trace
            FileChannel pagemap = criu.open("pagemap-19886.img");
            FileChannel pages = criu.open("pages-1.img");
            CriuDumpPeer.writeAll(pagemap, PAGEMAP);
            CriuDumpPeer.writeAll(pages, PAGES); // 4 MiB: far beyond a pipe buffer, needs a concurrent drain
            pages.close();
            pagemap.close();
            seccomp.close();
            FileChannel inventory = criu.open("inventory.img");
            CriuDumpPeer.writeAll(inventory, INVENTORY);
            inventory.close();
            hookExit.set(criu.runHook("post-dump"));
            return hookExit.get() == 0 ? 0 : 1;
        }
    }

    @Test
    void capturesConcurrentImagesAndCommitsAtPostDump() throws Exception {
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));
        AtomicLong bytesSeen = new AtomicLong();
        List<String> phases = new java.util.concurrent.CopyOnWriteArrayList<>();
        DumpListener listener = new DumpListener() {
            @Override
            public void bytes(long delta) {
                bytesSeen.addAndGet(delta);
            }

            @Override
            public void phase(String phase) {
                phases.add(phase);
            }
        };

        DumpOutcome outcome = new DumpEngine(criu, root).dump(job(), sink, listener);

        criu.assertScriptOk();
        assertEquals(0, hookExit.get());
        assertEquals(List.of("seccomp.img", "pagemap-19886.img", "pages-1.img", "inventory.img"), sink.opened);
        assertArrayEquals(PAGES, sink.bytes("pages-1.img"));
        assertArrayEquals(SECCOMP, sink.bytes("seccomp.img"));
        assertArrayEquals(PAGEMAP, sink.bytes("pagemap-19886.img"));
        assertArrayEquals(INVENTORY, sink.bytes("inventory.img"));
        List<ImageDigest> manifest = sink.committedManifest;
        assertEquals(List.of("seccomp.img", "pagemap-19886.img", "pages-1.img", "inventory.img"),
                manifest.stream().map(d -> d.name().value()).collect(Collectors.toList()));
        for (ImageDigest d : manifest) {
            byte[] expected = sink.bytes(d.name().value());
            assertEquals(expected.length, d.size(), d.toString());
            assertEquals(crc(expected), d.crc32c(), d.toString());
            assertEquals(d, sink.finished.get(d.name().value()));
        }
        long total = PAGES.length + SECCOMP.length + PAGEMAP.length + INVENTORY.length;
        assertEquals(total, outcome.bytes());
        assertEquals(total, bytesSeen.get());
        assertEquals(4, outcome.images());
        assertTrue(sink.aborts.isEmpty(), sink.aborts.toString());
        assertEquals(List.of("criu", "capture", "post-dump", "commit", "committed"), phases);

        Path wd = outcome.workDir();
        assertEquals(root.toAbsolutePath(), wd.getParent());
        assertTrue(wd.getFileName().toString().matches("d-[0-9a-f]{8}"), wd.toString());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(wd)));
        assertEquals(wd.resolve("dump.log"), outcome.logPath());
        assertEquals(List.of("dump", "--stream", "-t", "4242", "-D", wd.toString(), "-o", "dump.log", "-v4",
                "--action-script", wd.resolve("hook").toString(), "--shell-job", "--tcp-established",
                "--network-lock", "nftables"), criu.args);
        assertWorkDirClean(wd);
        assertTrue(Files.exists(wd.resolve("dump.log")), "logs are kept");
    }

    @Test
    void barrierWaitsForRequestsStillBeingTakenIn() throws Exception {
        sink.slowOpenOf = "inventory.img"; // the hook asks while the request thread is still opening it
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));

        DumpOutcome outcome = new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE);

        criu.assertScriptOk();
        assertEquals(4, outcome.images());
        assertEquals("inventory.img", sink.committedManifest.get(3).name().value());
    }

    @Test
    void postDumpFailsWhenCacheRefusesCommit_sourceResumes() throws Exception {
        sink.commitBehaviour = m -> CompletableFuture.failedFuture(new IOException("cache: crc mismatch in pages-1.img"));
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));

        DumpCommitException e = assertThrows(DumpCommitException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertNotEquals(0, hookExit.get(), "post-dump must fail so that CRIU resumes the source");
        assertTrue(e.getMessage().startsWith("snapshot web1: the target refused the commit: cache: crc mismatch in pages-1.img"),
                e.getMessage());
        assertTrue(e.getMessage().contains("CRIU resumed the source"), e.getMessage());
        assertEquals("cache: crc mismatch in pages-1.img", e.getCause().getMessage());
        assertTrue(e.getSuppressed()[0] instanceof CriuException);
        assertEquals(1, sink.aborts.size());
        assertWorkDirClean(onlyWorkDir());
    }

    @Test
    void postDumpFailsWhenCommitTimesOut_sourceResumes() throws Exception {
        sink.commitBehaviour = m -> new CompletableFuture<>(); // the cache never answers
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));

        long start = System.nanoTime();
        DumpCommitException e = assertThrows(DumpCommitException.class,
                () -> new DumpEngine(criu, root).dump(job(Duration.ofMillis(500), Duration.ofSeconds(30)), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertNotEquals(0, hookExit.get());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(8), "the verdict comes at the commit timeout");
        assertTrue(e.getMessage().contains("did not confirm the commit of 4 images within the commit timeout (PT0.5S)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("CRIU resumed the source"), e.getMessage());
        assertEquals(1, sink.aborts.size());
    }

    @Test
    void commitThatCanNoLongerBeGivenUpIsWaitedForPastTheTimeout_sourceEnds() throws Exception {
        // A migration's sink after it told the target to resume: it refuses cancel and answers a little late.
        CompletableFuture<Void> late = new CompletableFuture<>() {
            @Override
            public boolean cancel(boolean mayInterruptIfRunning) {
                CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS).execute(() -> complete(null));
                return false;
            }
        };
        sink.commitBehaviour = m -> late;
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));

        DumpOutcome outcome = new DumpEngine(criu, root).dump(job(Duration.ofMillis(500), Duration.ofSeconds(30)), sink,
                DumpListener.NONE);

        criu.assertScriptOk();
        assertEquals(0, hookExit.get(), "post-dump failed although the target was already told to run the tree");
        assertEquals(4, outcome.images());
        assertEquals(0, sink.aborts.size());
    }

    @Test
    void aCancelledCommitFailsPostDump_sourceResumes() throws Exception {
        CompletableFuture<Void> never = new CompletableFuture<>();
        sink.commitBehaviour = m -> never;
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> successfulDump(wd, hookExit));

        assertThrows(DumpCommitException.class, () -> new DumpEngine(criu, root).dump(job(Duration.ofMillis(500),
                Duration.ofSeconds(30)), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertNotEquals(0, hookExit.get());
        assertTrue(never.isCancelled(), "the engine gave up without telling the sink (cancel)");
    }

    @Test
    void criuFailingAfterTheCommitKeepsTheSnapshot() throws Exception {
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            successfulDump(wd, hookExit);
            return 1; // e.g. CRIU failed while finishing off the source
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertEquals(0, hookExit.get());
        assertEquals(4, sink.committedManifest.size());
        assertTrue(sink.aborts.isEmpty(), "a committed snapshot may be the only copy: " + sink.aborts);
        assertTrue(e.getMessage().contains("CRIU failed after the snapshot was committed; snapshot web1 is kept"),
                e.getMessage());
    }

    @Test
    void sinkWriteFailureMakesCriuFail() throws Exception {
        sink.failWritesOf = "pages-1.img";
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try {
                return successfulDump(wd, hookExit);
            } catch (IOException expected) {
                return 1; // CRIU: "Unable to spice data: Broken pipe", Dumping FAILED, source resumed
            }
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertEquals(-1, hookExit.get(), "CRIU failed before post-dump");
        assertEquals(1, e.exitCode());
        assertTrue(e.getMessage().startsWith("criu dump failed (exit 1): capture of pages-1.img failed: link to the cache broke"),
                e.getMessage());
        assertNull(sink.committedManifest);
        assertEquals(1, sink.aborts.size());
        assertWorkDirClean(onlyWorkDir());
    }

    @Test
    void criuThatConnectsAndClosesWithoutRequestFailsWithItsExitCode() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuDumpPeer.connect(wd).close(); // CRIU connects before validating its options
            Files.writeString(wd.resolve("dump.log"), "(00.001) Error (criu/crtools.c:300): unknown option\n");
            return 1;
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertEquals("dump", e.action());
        assertEquals(1, e.exitCode());
        assertEquals(List.of("(00.001) Error (criu/crtools.c:300): unknown option"), e.logExcerpt());
        assertTrue(e.getMessage().startsWith("criu dump failed (exit 1); log: " + e.logPath()), e.getMessage());
        assertTrue(sink.opened.isEmpty());
        assertEquals(1, sink.aborts.size());
    }

    @Test
    void criuExitingZeroWithoutPostDumpIsNotACommit() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuDumpPeer.connect(wd).close();
            return 0;
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        assertEquals(0, e.exitCode());
        assertTrue(e.getMessage().contains("never ran the post-dump action"), e.getMessage());
        assertNull(sink.committedManifest);
        assertEquals(1, sink.aborts.size());
    }

    @Test
    void criuExitingBeforeConnectingIsReported() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> 2);

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("exited without connecting to streamer-capture.sock"), e.getMessage());
        assertEquals(1, sink.aborts.size());
    }

    @Test
    void criuOverstayingTheTimeoutIsStopped() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuDumpPeer peer = CriuDumpPeer.connect(wd)) {
                Thread.sleep(60_000);
                return 0;
            }
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(Duration.ofSeconds(1), Duration.ofMillis(300)), sink, DumpListener.NONE));

        assertTrue(criu.terminated);
        assertTrue(e.getMessage().contains("did not finish within the dump timeout (PT0.3S)"), e.getMessage());
        assertEquals(1, sink.aborts.size());
    }

    @Test
    void invalidImageNameMakesCriuFail() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuDumpPeer peer = CriuDumpPeer.connect(wd)) {
                FileChannel out = peer.open("../../etc/passwd");
                try {
                    for (int i = 0; i < 100; i++) {
                        CriuDumpPeer.writeAll(out, new byte[65536]); // the engine closed the pipe: EPIPE
                    }
                    return 0;
                } catch (IOException expected) {
                    return 1;
                }
            }
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new DumpEngine(criu, root).dump(job(), sink, DumpListener.NONE));

        criu.assertScriptOk();
        assertEquals(1, e.exitCode());
        assertTrue(e.getMessage().contains("unusable image name"), e.getMessage());
        assertTrue(sink.opened.isEmpty());
    }

    private Path onlyWorkDir() throws IOException {
        try (Stream<Path> dirs = Files.list(root)) {
            List<Path> all = dirs.collect(Collectors.toList());
            assertEquals(1, all.size(), all.toString());
            return all.get(0);
        }
    }

    /** No image ever on disk; the socket, hook and FIFOs are gone. */
    private static void assertWorkDirClean(Path wd) throws IOException {
        try (Stream<Path> files = Files.list(wd)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
            assertFalse(names.stream().anyMatch(n -> n.endsWith(".img")), names.toString());
            for (String gone : List.of("streamer-capture.sock", "hook", "gate.req", "gate.ack")) {
                assertFalse(names.contains(gone), gone + " left in " + names);
            }
        }
    }

    private static int crc(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b);
        return (int) crc.getValue();
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }
}
