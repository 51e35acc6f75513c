package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The one-shot listener CRIU's page-server socket comes through: only a connection that presents the secret is
 * taken (an impostor racing to the port gets closed, however it behaves), the secret may arrive after the connect,
 * and the wait ends with a clear message when nobody comes or CRIU exited.
 */
class PageServerSocketTest {

    private static Socket dial(PageServerSocket ps) throws IOException {
        return new Socket(InetAddress.getLoopbackAddress(), ps.port());
    }

    @Test
    void takesTheConnectionThatPresentsTheSecretEvenWhenItArrivesLate() throws Exception {
        try (PageServerSocket ps = PageServerSocket.listen()) {
            CompletableFuture<Void> criu = CompletableFuture.runAsync(() -> {
                try (Socket s = dial(ps)) {
                    Thread.sleep(50); // connect first, the secret later (bash: exec 3<>/dev/tcp, then printf)
                    OutputStream out = s.getOutputStream();
                    out.write(ps.secret().getBytes(StandardCharsets.US_ASCII));
                    out.write("page-server bytes".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(500);
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            try (SocketChannel c = ps.accept(Duration.ofSeconds(5), () -> false)) {
                assertTrue(c.isBlocking(), "the accepted socket goes to the tunnel in blocking mode");
                ByteBuffer rest = ByteBuffer.allocate(64);
                c.read(rest);
                assertEquals("page-server bytes", new String(rest.array(), 0, rest.position(), StandardCharsets.US_ASCII),
                        "bytes after the secret are CRIU's and must not be eaten");
            }
            criu.get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void impostorsAreClosedAndTheRealClientStillGetsIn() throws Exception {
        try (PageServerSocket ps = PageServerSocket.listen()) {
            Socket wrong = dial(ps);
            wrong.getOutputStream().write("x".repeat(32).getBytes(StandardCharsets.US_ASCII));
            Socket silentShort = dial(ps);
            silentShort.getOutputStream().write("abc".getBytes(StandardCharsets.US_ASCII));
            silentShort.shutdownOutput(); // EOF before 32 bytes
            CompletableFuture<Socket> real = CompletableFuture.supplyAsync(() -> {
                try {
                    Thread.sleep(100);
                    Socket s = dial(ps);
                    s.getOutputStream().write(ps.secret().getBytes(StandardCharsets.US_ASCII));
                    return s;
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            try (SocketChannel c = ps.accept(Duration.ofSeconds(10), () -> false);
                 Socket s = real.get(5, TimeUnit.SECONDS)) {
                assertEquals(s.getLocalPort(), ((java.net.InetSocketAddress) c.getRemoteAddress()).getPort(),
                        "accepted someone other than the client with the secret");
                assertEquals(-1, wrong.getInputStream().read(), "the impostor with a wrong secret was not closed");
                assertEquals(-1, silentShort.getInputStream().read(), "the impostor that hung up was not closed");
            } finally {
                wrong.close();
                silentShort.close();
            }
        }
    }

    @Test
    void nobodyComes_failsAtTheTimeoutAndSaysWhat() throws Exception {
        try (PageServerSocket ps = PageServerSocket.listen()) {
            long t0 = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> ps.accept(Duration.ofMillis(300), () -> false));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 300, "gave up after " + ms + " ms, before the timeout");
            assertTrue(e.getMessage().contains("did not connect") && e.getMessage().contains("300 ms"), e.getMessage());
        }
    }

    @Test
    void criuExited_endsTheWaitAtOnce() throws Exception {
        try (PageServerSocket ps = PageServerSocket.listen()) {
            long t0 = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> ps.accept(Duration.ofSeconds(30), () -> true));
            assertTrue((System.nanoTime() - t0) < Duration.ofSeconds(5).toNanos(), "waited although CRIU exited");
            assertTrue(e.getMessage().contains("(it exited)"), e.getMessage());
        }
    }
}
