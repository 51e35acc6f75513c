package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link TcpRepair} on a real process (root): of its two ends of a loopback connection, the one in repair mode is taken
 * out of it, the other keeps its SO_REUSEADDR, and a second pass finds nothing.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TcpRepairTest {

    private static final String PEER = String.join("\n",
            "import socket, sys",
            "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()",
            "c = socket.create_connection(l.getsockname()); s, _ = l.accept()",
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
            "c.setsockopt(6, 19, 1)",  // TCP_REPAIR on: needs CAP_NET_ADMIN
            "print('ready', flush=True)",
            "sys.stdin.readline()",
            "print(c.getsockopt(6, 19), s.getsockopt(6, 19), s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), flush=True)",
            "");

    @Test
    void releasesOnlyTheSocketsInRepairMode() throws Exception {
        Process peer = new ProcessBuilder("python3", "-c", PEER).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.UTF_8));
             OutputStream in = peer.getOutputStream()) {
            assertEquals("ready", out.readLine(), "the peer could not put its socket in repair mode (root needed)");
            assertEquals(1, TcpRepair.release(peer.pid()));
            assertEquals(0, TcpRepair.release(peer.pid()), "a second pass found another socket in repair mode");
            in.write('\n');
            in.flush();
            assertEquals("0 0 1", out.readLine(), "repair mode of the client end, of the server end, its SO_REUSEADDR");
        } finally {
            peer.destroyForcibly();
            assertTrue(peer.waitFor(10, TimeUnit.SECONDS));
        }
    }
}
