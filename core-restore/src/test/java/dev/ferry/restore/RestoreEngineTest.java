package dev.ferry.restore;

import dev.ferry.criu.ScriptedCriu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuOptions;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RestoreEngineTest {

    private static final byte[] INVENTORY = random(86, 1);
    private static final byte[] PAGEMAP = random(3 << 20, 2); // more than even a 1 MiB pipe holds
    private static final byte[] PAGES = random(5 << 20, 3);
    private static final byte[] CORE = random(1904, 4);

    @TempDir
    Path root;

    private final MapSource source = images(new MapSource());

    private static MapSource images(MapSource source) {
        return source
                .put("inventory.img", INVENTORY)
                .put("pagemap-19886.img", PAGEMAP)
                .put("pages-1.img", PAGES)
                .put("core-19886.img", CORE);
    }

    /** Images in native memory are given to the pipes by reference (vmsplice), the others written (write). */
    private static MapSource source(boolean nativeMemory) {
        return nativeMemory ? images(MapSource.inNativeMemory()) : images(new MapSource());
    }

    private static RestoreJob job(Duration timeout) {
        return new RestoreJob(SnapshotName.of("web1"),
                new CriuOptions(true, true, true, false, false, false, "nftables", null, List.of()), timeout);
    }

    @ParameterizedTest(name = "native memory: {0}")
    @ValueSource(booleans = {false, true})
    void servesSeveralImagesAtOnceWithoutDeadlock(boolean nativeMemory) throws Exception {
        List<String> served = new CopyOnWriteArrayList<>();
        List<String> missing = new CopyOnWriteArrayList<>();
        List<String> phases = new CopyOnWriteArrayList<>();
        RestoreListener listener = new RestoreListener() {
            @Override
            public void phase(String phase) {
                phases.add(phase);
            }

            @Override
            public void imageServed(ImageName name, long bytes) {
                served.add(name + ":" + bytes);
            }

            @Override
            public void imageMissing(ImageName name) {
                missing.add(name.value());
            }
        };
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuRestorePeer peer = CriuRestorePeer.connect(wd)) {
                assertArrayEquals(INVENTORY, CriuRestorePeer.readAll(peer.request("inventory.img")));
                assertNull(peer.request("memfd.img"));
                FileChannel core = peer.request("core-19886.img");
                // CRIU reads a pagemap's head, asks for the pages, reads them, and only then the rest of the pagemap.
                FileChannel pagemap = peer.request("pagemap-19886.img");
                byte[] head = CriuRestorePeer.readSome(pagemap, 16);
                FileChannel pages = peer.request("pages-1.img");
                assertArrayEquals(PAGES, CriuRestorePeer.readAll(pages));
                byte[] rest = CriuRestorePeer.readAll(pagemap);
                byte[] whole = new byte[head.length + rest.length];
                System.arraycopy(head, 0, whole, 0, head.length);
                System.arraycopy(rest, 0, whole, head.length, rest.length);
                assertArrayEquals(PAGEMAP, whole);
                assertArrayEquals(CORE, CriuRestorePeer.readAll(core));
            }
            Files.writeString(wd.resolve("restored.pid"), "19886");
            return 0;
        });

        RestoreOutcome outcome = new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source(nativeMemory),
                listener);

        criu.assertScriptOk();
        assertEquals(19886, outcome.restoredPid());
        assertEquals(4, outcome.imagesServed());
        assertEquals(1, outcome.imagesMissing());
        assertEquals(INVENTORY.length + PAGEMAP.length + PAGES.length + CORE.length, outcome.bytesServed());
        assertEquals(List.of("memfd.img"), missing);
        assertEquals(4, served.size());
        assertTrue(served.contains("pages-1.img:" + PAGES.length), served.toString());
        assertEquals(List.of("criu", "serve"), phases);
        Path wd = outcome.workDir();
        assertTrue(wd.getFileName().toString().matches("r-[0-9a-f]{8}"), wd.toString());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(wd)));
        assertEquals(wd.resolve("restore.log"), outcome.logPath());
        assertEquals(List.of("restore", "--stream", "-d", "-D", wd.toString(), "-o", "restore.log", "-v4",
                "--pidfile", wd.resolve("restored.pid").toString(), "--shell-job", "--tcp-established"), criu.args);
        assertFalse(Files.exists(wd.resolve("streamer-serve.sock")));
    }

    @Test
    void unknownImageIsAnsweredExistsFalseWithTheFieldEncoded() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuRestorePeer peer = CriuRestorePeer.connect(wd)) {
                assertEquals("020000000800", HexFormat.of().formatHex(peer.requestRaw("apparmor.img")));
                assertEquals("020000000801", HexFormat.of().formatHex(peer.requestRaw("inventory.img")));
            }
            return 1; // CRIU gave up (it never sent the pipe): its exit code decides
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source, RestoreListener.NONE));

        criu.assertScriptOk();
        assertEquals(1, e.exitCode());
    }

    @Test
    void criuThatConnectsAndClosesWithoutRequestFailsWithItsExitCode() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            Files.writeString(wd.resolve("restore.log"),
                    "(00.01) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n"
                    + "(00.02) Error (criu/cr-restore.c:2400): Can't fork for 19886: File exists\n");
            return 1;
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source, RestoreListener.NONE));

        criu.assertScriptOk();
        assertEquals("restore", e.action());
        assertEquals(1, e.exitCode());
        assertEquals(List.of("(00.02) Error (criu/cr-restore.c:2400): Can't fork for 19886: File exists"), e.logExcerpt());
        assertTrue(e.getMessage().startsWith("criu restore failed (exit 1); log: "), e.getMessage());
    }

    @ParameterizedTest(name = "native memory: {0}")
    @ValueSource(booleans = {false, true})
    void criuThatClosesAPipeEarlyIsNotAFailure(boolean nativeMemory) throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuRestorePeer peer = CriuRestorePeer.connect(wd)) {
                FileChannel pages = peer.request("pages-1.img");
                CriuRestorePeer.readSome(pages, 10);
                pages.close(); // the streamer's next write gets EPIPE
                assertArrayEquals(CORE, CriuRestorePeer.readAll(peer.request("core-19886.img")));
            }
            Files.writeString(wd.resolve("restored.pid"), "777\n");
            return 0;
        });

        RestoreOutcome outcome = new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source(nativeMemory),
                RestoreListener.NONE);

        criu.assertScriptOk();
        assertEquals(777, outcome.restoredPid());
        assertEquals(1, outcome.imagesServed());
        assertEquals(CORE.length, outcome.bytesServed());
    }

    @Test
    void criuOverstayingTheTimeoutIsStopped() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            try (CriuRestorePeer peer = CriuRestorePeer.connect(wd)) {
                Thread.sleep(60_000);
                return 0;
            }
        });

        CriuException e = assertThrows(CriuException.class,
                () -> new RestoreEngine(criu, root).restore(job(Duration.ofMillis(300)), source, RestoreListener.NONE));

        assertTrue(criu.terminated);
        assertTrue(e.getMessage().contains("did not finish within the restore timeout (PT0.3S)"), e.getMessage());
    }

    @Test
    void exitZeroWithoutPidFileIsReported() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            return 0;
        });

        IOException e = assertThrows(IOException.class,
                () -> new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source, RestoreListener.NONE));

        assertTrue(e.getMessage().contains("left no pid file"), e.getMessage());
    }

    /** Runs the post-restore action script as CRIU does; its exit code decides whether the scripted CRIU goes on. */
    private static int postRestore(Path wd, long pid) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sh", wd.resolve("hook").toString()).inheritIO();
        pb.environment().put("CRTOOLS_SCRIPT_ACTION", "post-restore");
        pb.environment().put("CRTOOLS_INIT_PID", Long.toString(pid));
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the post-restore script did not exit");
        return p.exitValue();
    }

    /** A scripted CRIU that restores, asks post-restore, and resumes (writes its pid file) only if that passed. */
    private static ScriptedCriu gatedCriu(AtomicInteger hookExit) {
        return new ScriptedCriu(wd -> {
            try (CriuRestorePeer peer = CriuRestorePeer.connect(wd)) {
                assertArrayEquals(INVENTORY, CriuRestorePeer.readAll(peer.request("inventory.img")));
            }
            hookExit.set(postRestore(wd, 19886));
            if (hookExit.get() != 0) {
                Files.writeString(wd.resolve("restore.log"), "Error (criu/cr-restore.c:2290): Aborting restore due"
                        + " to post-restore script ret code " + hookExit.get() + "\n");
                return 1;
            }
            Files.writeString(wd.resolve("restored.pid"), "19886");
            return 0;
        });
    }

    @Test
    void aGatedRestoreAsksAtPostRestoreWithTheRootPidAndResumesOnYes() throws Exception {
        AtomicInteger hookExit = new AtomicInteger(-1);
        AtomicLong asked = new AtomicLong(-1);
        List<String> phases = new CopyOnWriteArrayList<>();
        ScriptedCriu criu = gatedCriu(hookExit);
        RestoreJob job = new RestoreJob(SnapshotName.of("web1"), job(Duration.ofSeconds(30)).options(),
                Duration.ofSeconds(30), pid -> {
                    asked.set(pid);
                    return true;
                });

        RestoreOutcome outcome = new RestoreEngine(criu, root).restore(job, source, new RestoreListener() {
            @Override
            public void phase(String phase) {
                phases.add(phase);
            }
        });

        criu.assertScriptOk();
        assertEquals(0, hookExit.get());
        assertEquals(19886, asked.get());
        assertEquals(19886, outcome.restoredPid());
        assertEquals(List.of("criu", "serve", "held", "resume"), phases);
        Path wd = outcome.workDir();
        assertEquals(List.of("--action-script", wd.resolve("hook").toString()),
                criu.args.subList(criu.args.indexOf("--action-script"), criu.args.indexOf("--action-script") + 2));
        for (String gone : List.of("hook", "gate.req", "gate.ack", "streamer-serve.sock")) {
            assertFalse(Files.exists(wd.resolve(gone)), gone + " left in the work dir");
        }
    }

    @Test
    void aGateThatSaysNoFailsPostRestoreAndTheFailureSaysTheTreeNeverRan() throws Exception {
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = gatedCriu(hookExit);
        RestoreJob job = new RestoreJob(SnapshotName.of("web1"), job(Duration.ofSeconds(30)).options(),
                Duration.ofSeconds(30), pid -> false);

        CriuException e = assertThrows(CriuException.class, () -> new RestoreEngine(criu, root).restore(job, source,
                RestoreListener.NONE));

        criu.assertScriptOk();
        assertTrue(hookExit.get() != 0, "post-restore passed although the gate said no");
        assertTrue(e.getMessage().contains("not resumed") && e.getMessage().contains("before it ran"), e.getMessage());
        assertTrue(String.join("\n", e.logExcerpt()).contains("post-restore script"), e.logExcerpt().toString());
    }

    @Test
    void aGateThatThrowsCountsAsNo() throws Exception {
        AtomicInteger hookExit = new AtomicInteger(-1);
        ScriptedCriu criu = gatedCriu(hookExit);
        RestoreJob job = new RestoreJob(SnapshotName.of("web1"), job(Duration.ofSeconds(30)).options(),
                Duration.ofSeconds(30), pid -> {
                    throw new IllegalStateException("link gone");
                });

        assertThrows(CriuException.class, () -> new RestoreEngine(criu, root).restore(job, source, RestoreListener.NONE));
        assertTrue(hookExit.get() != 0, "post-restore passed although the gate failed");
    }

    @Test
    void anUngatedRestoreHasNoActionScript() throws Exception {
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            assertFalse(Files.exists(wd.resolve("hook")), "an ungated restore wrote an action script");
            Files.writeString(wd.resolve("restored.pid"), "7");
            return 0;
        });
        new RestoreEngine(criu, root).restore(job(Duration.ofSeconds(30)), source, RestoreListener.NONE);
        criu.assertScriptOk();
        assertFalse(criu.args.contains("--action-script"), criu.args.toString());
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }
}
