package dev.ferry.protocol.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ExitCode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon that refuses a caller (SO_PEERCRED) answers and closes without reading the request. The caller's write
 * then fails (EPIPE) while the answer waits unread; the caller must show the answer, not "Broken pipe (is it
 * running?)". The request here is larger than the socket's buffer, so its write is still going when the daemon closes.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ControlClientRefusalTest {

    @Test
    void anAnswerSentBeforeTheRequestWasReadReachesTheCaller(@TempDir Path dir) throws Exception {
        Result r = callADaemonThatClosesAtOnce(dir, Event.newBuilder()
                .setResult(Results.failure(ExitCode.PERMISSION, "control socket refused user nobody")).build());
        assertFalse(r.getOk());
        assertEquals(ExitCode.PERMISSION.code(), r.getExitCode(), r.getMessage());
        assertTrue(r.getMessage().contains("refused user nobody"), r.getMessage());
    }

    @Test
    void aDaemonThatClosesWithoutAnAnswerIsStillReportedUnreachable(@TempDir Path dir) throws Exception {
        Result r = callADaemonThatClosesAtOnce(dir, null);
        assertFalse(r.getOk());
        assertEquals(ExitCode.DAEMON_UNREACHABLE.code(), r.getExitCode(), r.getMessage());
    }

    /** A daemon that writes {@code answer} (if any) and closes without reading; the caller sends 900 KB. */
    private static Result callADaemonThatClosesAtOnce(Path dir, Event answer) throws Exception {
        Path socket = dir.resolve("cache.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread daemon = new Thread(() -> {
                try (SocketChannel c = server.accept()) {
                    if (answer != null) {
                        ControlFraming.write(Channels.newOutputStream(c), answer);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            daemon.start();
            Request big = Request.newBuilder()
                    .setRestore(RestoreRequest.newBuilder().setSnapshot("x".repeat(900_000))).build();
            Result r = ControlClient.call(socket, "image-cache", big, p -> { });
            daemon.join(10_000);
            return r;
        }
    }
}
