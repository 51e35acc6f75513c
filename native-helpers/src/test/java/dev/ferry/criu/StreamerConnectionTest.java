package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.posix.FdSocket;
import dev.ferry.posix.UnixListener;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StreamerConnectionTest {

    @TempDir
    Path dir;

    @Test
    void encodesLikeCriu() {
        HexFormat hex = HexFormat.of();
        assertEquals("0d000000" + "0a0b" + "736563636f6d702e696d67", hex.formatHex(StreamerConnection.encodeRequest("seccomp.img")));
        assertArrayEquals(hex.parseHex("020000000801"), StreamerConnection.encodeReply(true));
        assertArrayEquals(hex.parseHex("020000000800"), StreamerConnection.encodeReply(false));
    }

    @Test
    void readsRequestsUntilEof() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve(StreamerConnection.CAPTURE_SOCKET))) {
            FdSocket criu = FdSocket.connect(listener.path());
            try (StreamerConnection connection = new StreamerConnection(listener.accept(Duration.ofSeconds(5)))) {
                criu.write(StreamerConnection.encodeRequest("inventory.img"));
                criu.write(StreamerConnection.encodeRequest("pages-1.img"));
                criu.close();
                assertEquals("inventory.img", connection.readRequest());
                assertEquals("pages-1.img", connection.readRequest());
                assertNull(connection.readRequest());
            }
        }
    }

    @Test
    void refusesOversizedRequest() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve(StreamerConnection.CAPTURE_SOCKET));
             FdSocket criu = FdSocket.connect(listener.path());
             StreamerConnection connection = new StreamerConnection(listener.accept(Duration.ofSeconds(5)))) {
            criu.write(new byte[] {0x01, 0x28, 0, 0}); // 10241
            StreamerProtocolException e = assertThrows(StreamerProtocolException.class, connection::readRequest);
            assertTrue(e.getMessage().contains("10241 bytes (expected: <= 10240)"), e.getMessage());
        }
    }

    @Test
    void refusesGarbageRequest() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve(StreamerConnection.CAPTURE_SOCKET));
             FdSocket criu = FdSocket.connect(listener.path());
             StreamerConnection connection = new StreamerConnection(listener.accept(Duration.ofSeconds(5)))) {
            criu.write(new byte[] {0x02, 0, 0, 0, 0x08, 0x01}); // a reply, not a request: no filename
            assertThrows(StreamerProtocolException.class, connection::readRequest);
        }
    }
}
