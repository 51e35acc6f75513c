package dev.ferry.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A man in the middle for {@link TamperingIT}, run as its own JVM inside the source node's network
 * namespace: relays TCP connections from the image-proxy to the image-cache, both directions, and
 * flips exactly one bit, once, in the proxy → cache direction. Everything else passes untouched.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.BitFlipRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MODE LOG [TIMEOUT_S]
 * </pre>
 *
 * <ul>
 *   <li>{@code frames}: parses ferry's frames (u32 BE length, u8 type, u8 flags, u32 BE stream id,
 *       payload) as they pass and flips bit 0 of the middle payload byte of the first IMAGE_DATA (0x05)
 *       frame whose payload is at least {@link #MIN_PAYLOAD} bytes; length and header stay intact. For
 *       plain TCP links.</li>
 *   <li>{@code offset}: flips bit 0 of the byte at offset {@link #TLS_OFFSET} (256 KiB) of a connection's
 *       proxy → cache bytes, well past any handshake. For TLS links, whose frames cannot be seen.</li>
 * </ul>
 *
 * Every connection, every flip and every close goes to LOG, one line each ({@code listening ...},
 * {@code FLIP ...}, {@code closed ...}). Exits once the connection that carried the flip has closed in
 * both directions, or after TIMEOUT_S (default 90) seconds, whichever comes first.
 */
public final class BitFlipRelay {

    static final int MIN_PAYLOAD = 4096;
    static final long TLS_OFFSET = 256L << 10;
    static final int IMAGE_DATA = 0x05;

    private final InetSocketAddress target;
    private final boolean frames;
    private final PrintWriter log;
    private final AtomicBoolean flipped = new AtomicBoolean();
    private final AtomicInteger connections = new AtomicInteger();
    private final CountDownLatch flippedConnectionDone = new CountDownLatch(1);

    private BitFlipRelay(InetSocketAddress target, boolean frames, PrintWriter log) {
        this.target = target;
        this.frames = frames;
        this.log = log;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 6 || !(args[4].equals("frames") || args[4].equals("offset"))) {
            System.err.println("usage: BitFlipRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT frames|offset LOG [TIMEOUT_S]");
            System.exit(2);
        }
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1]));
        InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(args[2]), Integer.parseInt(args[3]));
        long timeoutSeconds = args.length > 6 ? Long.parseLong(args[6]) : 90;
        PrintWriter log = new PrintWriter(Files.newBufferedWriter(Path.of(args[5]), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND), true);
        BitFlipRelay relay = new BitFlipRelay(target, args[4].equals("frames"), log);
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(listen);
            Thread acceptor = new Thread(() -> relay.acceptLoop(server), "relay-accept");
            acceptor.setDaemon(true);
            acceptor.start();
            relay.log("listening " + listen + " -> " + target + " mode " + args[4] + " timeout " + timeoutSeconds + " s");
            boolean done = relay.flippedConnectionDone.await(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS);
            relay.log(done ? "exit: the connection that carried the flip is closed"
                    : "exit: timeout after " + timeoutSeconds + " s (flipped: " + relay.flipped.get() + ")");
        }
        log.close();
        System.exit(0);
    }

    private synchronized void log(String line) {
        log.println(Instant.now() + " " + line);
    }

    private void acceptLoop(ServerSocket server) {
        while (true) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed at exit
            }
            int id = connections.incrementAndGet();
            Thread t = new Thread(() -> relay(id, client), "relay-" + id);
            t.setDaemon(true);
            t.start();
        }
    }

    private void relay(int id, Socket client) {
        log("connection " + id + " from " + client.getRemoteSocketAddress());
        try (client; Socket upstream = new Socket()) {
            upstream.connect(target, 5_000);
            client.setTcpNoDelay(true);
            upstream.setTcpNoDelay(true);
            Connection c = new Connection(id);
            Thread down = new Thread(() -> c.pump(upstream, client, false), "relay-" + id + "-down");
            down.setDaemon(true);
            down.start();
            c.pump(client, upstream, true);
            down.join();
            log("closed connection " + id + ": " + c.up + " bytes proxy->cache, " + c.down + " bytes cache->proxy"
                    + (c.flippedHere ? ", carried the flip" : ""));
            if (c.flippedHere) {
                flippedConnectionDone.countDown();
            }
        } catch (IOException | InterruptedException e) {
            log("connection " + id + " failed: " + e);
        }
    }

    /** One relayed connection; the proxy → cache direction runs the frame parser. */
    private final class Connection {
        private final int id;
        private volatile long up;
        private volatile long down;
        private volatile boolean flippedHere;
        // frame parser state (proxy -> cache only)
        private final byte[] header = new byte[10];
        private int headerFill;
        private long payloadLeft;
        private long payloadLen;
        private int frameType;
        private int streamId;
        private long frameStart;
        private long frameCount;

        Connection(int id) {
            this.id = id;
        }

        void pump(Socket from, Socket to, boolean toCache) {
            byte[] buf = new byte[64 << 10];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (toCache) {
                        inspect(buf, n);
                        up += n;
                    } else {
                        down += n;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException e) {
                log("connection " + id + " " + (toCache ? "proxy->cache" : "cache->proxy") + ": " + e.getMessage());
                try {
                    // a reset on one side is passed on as a close of both
                    from.close();
                    to.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }

        /** Looks at the proxy → cache bytes buf[0..n), which start at connection offset {@code up}. */
        private void inspect(byte[] buf, int n) {
            if (!frames) {
                if (up <= TLS_OFFSET && TLS_OFFSET < up + n && flipped.compareAndSet(false, true)) {
                    flip(buf, (int) (TLS_OFFSET - up), "proxy->cache byte " + TLS_OFFSET + " (inside TLS record data)");
                }
                return;
            }
            int i = 0;
            while (i < n) {
                if (headerFill < header.length) {
                    if (headerFill == 0) {
                        frameStart = up + i;
                    }
                    header[headerFill++] = buf[i++];
                    if (headerFill == header.length) {
                        long length = ((header[0] & 0xFFL) << 24) | ((header[1] & 0xFF) << 16)
                                | ((header[2] & 0xFF) << 8) | (header[3] & 0xFF);
                        frameType = header[4] & 0xFF;
                        streamId = ((header[6] & 0xFF) << 24) | ((header[7] & 0xFF) << 16)
                                | ((header[8] & 0xFF) << 8) | (header[9] & 0xFF);
                        payloadLen = length - 6;
                        payloadLeft = payloadLen;
                        frameCount++;
                        if (payloadLen < 0) {
                            log("connection " + id + ": frame " + frameCount + " has length " + length
                                    + " < 6; not parsing further");
                            payloadLeft = Long.MAX_VALUE;
                        }
                        if (payloadLeft == 0) {
                            headerFill = 0;
                        }
                    }
                    continue;
                }
                int take = (int) Math.min(payloadLeft, n - i);
                long offsetInPayload = payloadLen - payloadLeft;
                long flipAt = payloadLen / 2;
                if (frameType == IMAGE_DATA && payloadLen >= MIN_PAYLOAD && offsetInPayload <= flipAt
                        && flipAt < offsetInPayload + take && flipped.compareAndSet(false, true)) {
                    flip(buf, i + (int) (flipAt - offsetInPayload), "payload byte " + flipAt + " of IMAGE_DATA frame "
                            + frameCount + " (stream " + streamId + ", payload " + payloadLen + " bytes, frame header at"
                            + " proxy->cache offset " + frameStart + ")");
                }
                i += take;
                payloadLeft -= take;
                if (payloadLeft == 0) {
                    headerFill = 0;
                }
            }
        }

        private void flip(byte[] buf, int index, String what) {
            byte before = buf[index];
            buf[index] ^= 0x01;
            flippedHere = true;
            log(String.format("FLIP connection %d: bit 0 of %s, proxy->cache offset %d: 0x%02x -> 0x%02x", id, what,
                    up + index, before & 0xFF, buf[index] & 0xFF));
        }
    }
}
