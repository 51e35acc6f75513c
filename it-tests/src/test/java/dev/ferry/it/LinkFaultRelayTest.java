package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryJar;
import dev.ferry.cli.lab.LogTail;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LinkFaultRelay} as the it-tests run it, its own JVM, on loopback with scripted peers: a test plays the
 * image-proxy and the image-cache. Needs neither root nor CRIU.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LinkFaultRelayTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final byte[] HELLO = frame(0x01, new byte[] {0x08, 0x01});
    private static final byte[] BEFORE_HELD = concat(frame(0x02, new byte[] {0x08, 0x01}), frame(0x0B, new byte[4]),
            frame(0x08, new byte[0]));
    private static final byte[] HELD = frame(LinkFaultRelay.SNAPSHOT_HELD, new byte[] {0x0a, 0x01, 'm'});
    private static final byte[] RESTORED = frame(0x0C, new byte[] {0x0a, 0x01, 'm'});
    private static final byte[] RESUME = frame(0x0E, new byte[] {0x0a, 0x01, 'm'});

    @TempDir
    Path dir;

    @Test
    void cut_passesTheFramesBeforeHeld_thenResetsBothSides() throws Exception {
        try (ServerSocket cacheListener = new ServerSocket(0, 1, LOOPBACK)) {
            Relay relay = Relay.start(dir, "cut", cacheListener.getLocalPort());
            try (Socket proxy = new Socket(LOOPBACK, relay.port); Socket cache = cacheListener.accept()) {
                handshake(proxy, cache);
                // SNAPSHOT_HELD's header in two writes: the relay must hold back its first bytes too
                write(cache, Arrays.copyOf(HELD, 3));
                Thread.sleep(100);
                write(cache, concat(Arrays.copyOfRange(HELD, 3, HELD.length), RESTORED));

                assertThrows(SocketException.class, () -> proxy.getInputStream().read(),
                        "the proxy's side must be reset, with no byte of SNAPSHOT_HELD before it");
                assertThrows(SocketException.class, () -> cache.getInputStream().read(), "the cache's side must be reset");
                relay.awaitExit();
                assertTrue(relay.log("CUT connection 1").contains("offset " + BEFORE_HELD.length), relay::describe);
                assertTrue(relay.log("exit:").contains("carried the fault is closed"), relay::describe);
            } finally {
                relay.kill();
            }
        }
    }

    @Test
    void swallow_dropsHeldAndAllAfter_keepsRelayingToTheCache_closesTheCacheWhenTheProxyGoes() throws Exception {
        try (ServerSocket cacheListener = new ServerSocket(0, 1, LOOPBACK)) {
            Relay relay = Relay.start(dir, "swallow", cacheListener.getLocalPort());
            try (Socket cache = acceptAfter(cacheListener, relay)) {
                Socket proxy = relay.proxy;
                handshake(proxy, cache);
                write(cache, concat(HELD, RESTORED));
                proxy.setSoTimeout(1_000);
                assertThrows(SocketTimeoutException.class, () -> proxy.getInputStream().read(),
                        "nothing may reach the proxy from SNAPSHOT_HELD on");
                relay.awaitLine("SWALLOW connection 1");

                write(proxy, RESUME);
                assertArrayEquals(RESUME, read(cache, RESUME.length), "proxy -> cache must still be relayed");
                write(cache, RESTORED); // still swallowed

                proxy.close(); // as when the image-proxy is killed
                assertEquals(-1, readOrEnd(cache), "the proxy's close must reach the cache");
                relay.awaitExit();
                assertTrue(relay.log("closed connection 1").contains("carried the fault (SWALLOW)"), relay::describe);
            } finally {
                relay.kill();
            }
        }
    }

    @Test
    void swallow_closesTheProxyWhenTheCacheGoes() throws Exception {
        try (ServerSocket cacheListener = new ServerSocket(0, 1, LOOPBACK)) {
            Relay relay = Relay.start(dir, "swallow", cacheListener.getLocalPort());
            try (Socket cache = acceptAfter(cacheListener, relay)) {
                Socket proxy = relay.proxy;
                handshake(proxy, cache);
                write(cache, HELD);
                relay.awaitLine("SWALLOW connection 1");
                cache.close(); // as when the cache gives up waiting for SNAPSHOT_RESUME
                assertEquals(-1, readOrEnd(proxy), "the cache's close must reach the proxy");
                relay.awaitExit();
            } finally {
                relay.kill();
            }
        }
    }

    /** HELLO proxy -> cache and the frames before SNAPSHOT_HELD cache -> proxy pass untouched. */
    private static void handshake(Socket proxy, Socket cache) throws IOException {
        proxy.setSoTimeout(10_000);
        cache.setSoTimeout(10_000);
        write(proxy, HELLO);
        assertArrayEquals(HELLO, read(cache, HELLO.length));
        write(cache, BEFORE_HELD);
        assertArrayEquals(BEFORE_HELD, read(proxy, BEFORE_HELD.length));
    }

    /** Connects the proxy's side through the relay, then accepts the relay's connection on the cache's side. */
    private static Socket acceptAfter(ServerSocket cacheListener, Relay relay) throws IOException {
        relay.proxy = new Socket(LOOPBACK, relay.port);
        return cacheListener.accept();
    }

    /** One relay JVM on loopback. */
    private static final class Relay {
        final Process process;
        final Path log;
        final Path out;
        final int port;
        Socket proxy;

        private Relay(Process process, Path log, Path out, int port) {
            this.process = process;
            this.log = log;
            this.out = out;
            this.port = port;
        }

        static Relay start(Path dir, String mode, int cachePort) throws Exception {
            int port;
            try (ServerSocket probe = new ServerSocket(0, 1, LOOPBACK)) {
                port = probe.getLocalPort();
            }
            Path log = dir.resolve("relay-" + mode + ".log");
            Path out = dir.resolve("relay-" + mode + ".out");
            Path classes = Path.of(LinkFaultRelay.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Process process = new ProcessBuilder(FerryJar.currentJava().toString(), "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-cp", classes.toString(), LinkFaultRelay.class.getName(),
                    LOOPBACK.getHostAddress(), Integer.toString(port), LOOPBACK.getHostAddress(),
                    Integer.toString(cachePort), mode, log.toString(), "30")
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                    .start();
            Relay relay = new Relay(process, log, out, port);
            relay.awaitLine("listening");
            return relay;
        }

        void awaitLine(String needle) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!log(needle).contains(needle)) {
                assertTrue(System.nanoTime() < deadline, () -> "no '" + needle + "' line within 15 s\n" + describe());
                Thread.sleep(10);
            }
        }

        String log(String needle) {
            return LogTail.grep(log, needle, 1);
        }

        void awaitExit() throws InterruptedException {
            assertTrue(process.waitFor(10, TimeUnit.SECONDS), () -> "the relay did not exit once its faulted"
                    + " connection closed\n" + describe());
            assertEquals(0, process.exitValue(), this::describe);
        }

        /** Closes the proxy's side, if the test opened it here, and kills the relay by its PID. Idempotent. */
        void kill() throws InterruptedException, IOException {
            if (proxy != null) {
                proxy.close();
            }
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }

        String describe() {
            return "relay log " + log + ":\n" + LogTail.of(log, 20) + "\nrelay output " + out + ":\n"
                    + LogTail.of(out, 20);
        }
    }

    private static byte[] frame(int type, byte[] payload) {
        return ByteBuffer.allocate(10 + payload.length).putInt(payload.length + 6).put((byte) type).put((byte) 0)
                .putInt(0).put(payload).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer all = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            all.put(p);
        }
        return all.array();
    }

    private static void write(Socket socket, byte[] bytes) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(bytes);
        out.flush();
    }

    private static byte[] read(Socket socket, int n) throws IOException {
        InputStream in = socket.getInputStream();
        byte[] bytes = in.readNBytes(n);
        assertEquals(n, bytes.length, "end of stream after " + bytes.length + " of " + n + " bytes");
        return bytes;
    }

    /** The next byte, or -1 at the end of the stream; a reset counts as an end too (the relay closed it). */
    private static int readOrEnd(Socket socket) throws IOException {
        try {
            return socket.getInputStream().read();
        } catch (SocketException e) {
            return -1;
        }
    }
}
