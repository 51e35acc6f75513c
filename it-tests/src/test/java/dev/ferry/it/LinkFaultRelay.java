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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A relay for {@link MigrateFaultsIT}, run as its own JVM inside the source node's network namespace: relays TCP
 * connections from the image-proxy to the image-cache, both directions untouched, and breaks the link at one moment
 * of a migration's hand-over: when the cache sends its first SNAPSHOT_HELD frame (type {@code 0x0D}, the restored tree
 * held in CRIU's post-restore action), which never reaches the proxy.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.LinkFaultRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MODE LOG [TIMEOUT_S]
 * </pre>
 *
 * <ul>
 *   <li>{@code cut}: drops the frame and resets both sockets at once (SO_LINGER 0, then close): the link fails on
 *       both sides at the same moment.</li>
 *   <li>{@code swallow}: drops the frame and every cache → proxy byte after it, keeps both sockets open and goes on
 *       relaying proxy → cache: to the proxy the cache just says nothing. When either side closes, the other is
 *       closed too.</li>
 * </ul>
 *
 * Only {@code cache → proxy} bytes are parsed ({@link FrameTypeFinder}); plain TCP links only. Every connection, the
 * fault and every close go to LOG, one line each ({@code listening ...}, {@code connection ...}, {@code CUT ...} or
 * {@code SWALLOW ...}, {@code closed ...}, {@code exit ...}). Exits once the connection that carried the fault has
 * closed in both directions, or after TIMEOUT_S (default 120) seconds, whichever comes first.
 */
public final class LinkFaultRelay {

    static final int SNAPSHOT_HELD = 0x0D;
    static final long DEFAULT_TIMEOUT_SECONDS = 120;

    /** What to do with the first SNAPSHOT_HELD frame. */
    enum Mode { CUT, SWALLOW }

    private final InetSocketAddress target;
    private final Mode mode;
    private final PrintWriter log;
    private final AtomicBoolean faulted = new AtomicBoolean();
    private final AtomicInteger connections = new AtomicInteger();
    private final CountDownLatch faultedConnectionDone = new CountDownLatch(1);

    private LinkFaultRelay(InetSocketAddress target, Mode mode, PrintWriter log) {
        this.target = target;
        this.mode = mode;
        this.log = log;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 6 || !(args[4].equals("cut") || args[4].equals("swallow"))) {
            System.err.println("usage: LinkFaultRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT cut|swallow LOG"
                    + " [TIMEOUT_S]");
            System.exit(2);
        }
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1]));
        InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(args[2]), Integer.parseInt(args[3]));
        Mode mode = args[4].equals("cut") ? Mode.CUT : Mode.SWALLOW;
        long timeoutSeconds = args.length > 6 ? Long.parseLong(args[6]) : DEFAULT_TIMEOUT_SECONDS;
        PrintWriter log = new PrintWriter(Files.newBufferedWriter(Path.of(args[5]), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND), true);
        LinkFaultRelay relay = new LinkFaultRelay(target, mode, log);
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(listen);
            Thread acceptor = new Thread(() -> relay.acceptLoop(server), "relay-accept");
            acceptor.setDaemon(true);
            acceptor.start();
            relay.log("listening " + listen + " -> " + target + " mode " + args[4] + " timeout " + timeoutSeconds + " s");
            boolean done = relay.faultedConnectionDone.await(timeoutSeconds, TimeUnit.SECONDS);
            relay.log(done ? "exit: the connection that carried the fault is closed"
                    : "exit: timeout after " + timeoutSeconds + " s (fault: " + (relay.faulted.get() ? mode : "none") + ")");
        }
        log.close();
        System.exit(0);
    }

    private synchronized void log(String line) {
        log.println(Instant.now() + " " + line);
    }

    private void acceptLoop(ServerSocket server) {
        while (true) {
            Socket proxySide;
            try {
                proxySide = server.accept();
            } catch (IOException e) {
                return; // closed at exit
            }
            int id = connections.incrementAndGet();
            Thread t = new Thread(() -> relay(id, proxySide), "relay-" + id);
            t.setDaemon(true);
            t.start();
        }
    }

    private void relay(int id, Socket proxySide) {
        log("connection " + id + " from " + proxySide.getRemoteSocketAddress());
        try (proxySide; Socket cacheSide = new Socket()) {
            cacheSide.connect(target, 5_000);
            proxySide.setTcpNoDelay(true);
            cacheSide.setTcpNoDelay(true);
            Connection c = new Connection(id, proxySide, cacheSide);
            Thread down = new Thread(c::pumpCacheToProxy, "relay-" + id + "-down");
            down.setDaemon(true);
            down.start();
            c.pumpProxyToCache();
            down.join();
            log("closed connection " + id + ": " + c.up + " bytes proxy->cache, " + c.down + " bytes cache->proxy"
                    + " passed on, " + c.dropped + " dropped" + (c.faultedHere ? ", carried the fault (" + mode + ")" : ""));
            if (c.faultedHere) {
                faultedConnectionDone.countDown();
            }
        } catch (IOException | InterruptedException e) {
            log("connection " + id + " failed: " + e);
        }
    }

    /** One relayed connection: the proxy → cache pump passes bytes on as they are, the other one parses frames. */
    private final class Connection {
        private final int id;
        private final Socket proxySide;
        private final Socket cacheSide;
        private final FrameTypeFinder finder = new FrameTypeFinder(SNAPSHOT_HELD);
        private volatile long up;
        private volatile long down;
        private volatile long dropped;
        private volatile boolean faultedHere;

        Connection(int id, Socket proxySide, Socket cacheSide) {
            this.id = id;
            this.proxySide = proxySide;
            this.cacheSide = cacheSide;
        }

        void pumpProxyToCache() {
            byte[] buf = new byte[64 << 10];
            try {
                InputStream in = proxySide.getInputStream();
                OutputStream out = cacheSide.getOutputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    out.flush();
                    up += n;
                }
                endOfStream("proxy->cache", cacheSide);
            } catch (IOException e) {
                failed("proxy->cache", e);
            }
        }

        /**
         * Passes cache → proxy bytes on up to the first SNAPSHOT_HELD frame, then acts. A header cut short before its
         * type byte waits at the front of {@code buf} ({@code held} bytes, fewer than 5) for the rest of it.
         */
        void pumpCacheToProxy() {
            byte[] buf = new byte[64 << 10];
            int held = 0;
            boolean watching = true;
            try {
                InputStream in = cacheSide.getInputStream();
                OutputStream out = proxySide.getOutputStream();
                int n;
                while ((n = in.read(buf, held, buf.length - held)) > 0) {
                    if (faultedHere) { // swallowing: read and drop, so that a close by the cache is seen
                        dropped += n;
                        continue;
                    }
                    held += n;
                    int pass = held;
                    if (watching) {
                        finder.feed(buf, held - n, n);
                        pass = (int) (finder.passable() - down);
                        if (finder.stoppedBecause() != null) {
                            watching = false;
                            log("connection " + id + ": not ferry frames: " + finder.stoppedBecause());
                        }
                    }
                    pass(out, buf, pass);
                    System.arraycopy(buf, pass, buf, 0, held - pass);
                    held -= pass;
                    if (watching && finder.found() >= 0) {
                        watching = false;
                        if (!faulted.compareAndSet(false, true)) {
                            log("connection " + id + ": SNAPSHOT_HELD at cache->proxy offset " + finder.found()
                                    + ", but the fault is spent; passing it on");
                            pass(out, buf, held);
                            held = 0;
                            continue;
                        }
                        faultedHere = true;
                        dropped += held;
                        held = 0;
                        fault();
                        if (mode == Mode.CUT) {
                            return;
                        }
                    }
                }
                if (held > 0 && !faultedHere) {
                    pass(out, buf, held); // a partial header at the end of the stream: passed on as it is
                }
                endOfStream("cache->proxy", proxySide);
            } catch (IOException e) {
                failed("cache->proxy", e);
            }
        }

        private void pass(OutputStream out, byte[] buf, int n) throws IOException {
            if (n > 0) {
                out.write(buf, 0, n);
                out.flush();
                down += n;
            }
        }

        private void fault() {
            String frame = String.format("SNAPSHOT_HELD (0x%02x) frame %d, length %d, at cache->proxy offset %d"
                    + " (%d bytes passed on before it)", SNAPSHOT_HELD, finder.foundFrame(), finder.foundLength(),
                    finder.found(), down);
            if (mode == Mode.CUT) {
                log("CUT connection " + id + ": " + frame + " dropped; resetting both sockets");
                reset(proxySide);
                reset(cacheSide);
            } else {
                log("SWALLOW connection " + id + ": " + frame + " dropped, and every cache->proxy byte after it; both"
                        + " sockets stay open, proxy->cache still relayed");
            }
        }

        /** An end of stream: passed on as a half-close before the fault, as a close of both sockets after it. */
        private void endOfStream(String direction, Socket to) {
            log("connection " + id + " " + direction + ": end of stream");
            if (faultedHere) {
                closeBoth();
                return;
            }
            try {
                to.shutdownOutput();
            } catch (IOException e) {
                closeBoth();
            }
        }

        /** A reset or a closed socket on one side is passed on as a close of both. */
        private void failed(String direction, IOException e) {
            log("connection " + id + " " + direction + ": " + e.getMessage());
            closeBoth();
        }

        private void closeBoth() {
            closeQuietly(proxySide);
            closeQuietly(cacheSide);
        }
    }

    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
        } catch (IOException e) {
            // already closed: nothing to reset
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
