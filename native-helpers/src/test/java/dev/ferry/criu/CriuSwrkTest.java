package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.criu.CriuRpc;
import java.io.EOFException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@link CriuSwrk} against a scripted {@code criu swrk 3} (fake-swrk.py) speaking CRIU's RPC on a real socket pair. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CriuSwrkTest {

    @TempDir
    Path dir;

    private Criu fake(String mode) throws Exception {
        Path script = dir.resolve("fake-swrk.py");
        if (!Files.exists(script)) {
            try (InputStream in = CriuSwrkTest.class.getResourceAsStream("fake-swrk.py")) {
                Files.copy(in, script);
            }
        }
        Path launcher = dir.resolve("criu-" + mode);
        Files.writeString(launcher, "#!/bin/sh\nexec python3 " + script + " " + mode + " \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
        return new Criu(launcher, "4.2.1");
    }

    private static CriuRpc.criu_req restore() {
        return CriuRpc.criu_req.newBuilder().setType(CriuRpc.criu_req_type.RESTORE)
                .setOpts(CriuRpc.criu_opts.newBuilder().setImagesDirFd(7).setLogFile("restore.log").setLazyPages(true))
                .build();
    }

    @Test
    void notificationsAreAnsweredInOrder_thenTheReplyComes() throws Exception {
        List<String> seen = new ArrayList<>();
        try (CriuSwrk swrk = CriuSwrk.start(fake("ok"), dir)) {
            CriuRpc.criu_resp reply = swrk.call(restore(), (script, pid) -> seen.add(script + " " + pid),
                    Duration.ofSeconds(20));
            assertEquals(CriuRpc.criu_req_type.RESTORE, reply.getType());
            assertTrue(reply.getSuccess(), reply::toString);
            assertEquals(4242, reply.getRestore().getPid());
        }
        assertEquals(List.of("pre-restore 0", "post-restore 4242", "pre-resume 0"), seen);
    }

    @Test
    void aRefusedNotificationFailsTheRestore() throws Exception {
        List<String> seen = new ArrayList<>();
        try (CriuSwrk swrk = CriuSwrk.start(fake("ok"), dir)) {
            CriuRpc.criu_resp reply = swrk.call(restore(), (script, pid) -> seen.add(script)
                    && !script.equals("post-restore"), Duration.ofSeconds(20));
            assertFalse(reply.getSuccess(), reply::toString);
        }
        assertEquals(List.of("pre-restore", "post-restore"), seen, "CRIU goes on after a refused action");
    }

    @Test
    void theRequestCarriesWhatCriuChecks() throws Exception {
        try (CriuSwrk swrk = CriuSwrk.start(fake("ok"), dir)) {
            CriuRpc.criu_resp reply = swrk.call(CriuRpc.criu_req.newBuilder().setType(CriuRpc.criu_req_type.RESTORE)
                    .setOpts(CriuRpc.criu_opts.newBuilder().setImagesDirFd(7)).build(), (s, p) -> true,
                    Duration.ofSeconds(20));
            assertFalse(reply.getSuccess());
            assertTrue(reply.getCrErrmsg().contains("expected RESTORE with lazy_pages"), reply.getCrErrmsg());
        }
    }

    @Test
    void swrkThatExitsWithoutAnsweringIsAnEof_withItsExitCode() throws Exception {
        CriuSwrk swrk = CriuSwrk.start(fake("exit"), dir);
        try {
            assertThrows(EOFException.class, () -> swrk.call(restore(), (s, p) -> true, Duration.ofSeconds(20)));
            assertTrue(swrk.process().waitFor(Duration.ofSeconds(10)));
            assertEquals(3, swrk.process().exitValue());
        } finally {
            swrk.close();
        }
    }

    @Test
    void silenceEndsAtTheTimeout_closeStopsWhatStillRuns() throws Exception {
        CriuSwrk swrk = CriuSwrk.start(fake("hang"), dir);
        long start = System.nanoTime();
        assertThrows(SocketTimeoutException.class, () -> swrk.call(restore(), (s, p) -> true, Duration.ofMillis(500)));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
        assertTrue(swrk.process().isAlive());
        long closing = System.nanoTime();
        swrk.close();
        assertTrue(System.nanoTime() - closing < TimeUnit.MILLISECONDS.toNanos(500), "close waited for swrk");
        assertTrue(swrk.process().waitFor(Duration.ofSeconds(15)), "close left swrk running");
    }
}
