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
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the fault-injecting relays of the it-tests ({@link BitFlipRelay}, {@link LinkFaultRelay}) share: a TCP relay
 * from the image-proxy to the image-cache, run as its own JVM, that accepts the proxy's connections, dials the cache
 * for each, pumps both directions on two threads and exits once the connection that carried its one fault has closed
 * in both directions, or after TIMEOUT_S seconds. What a relay does to the bytes is its own {@link Connection}.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.SomeRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MODE LOG [TIMEOUT_S]
 * </pre>
 *
 * Every event goes to LOG, one timestamped line each: {@code listening ...}, {@code connection N from ...}, the
 * relay's own lines, {@code closed connection N: ...}, {@code exit: ...}; the it-tests grep for these words.
 *
 * <p>Threads: {@link #run} waits on the main thread, one thread accepts, each connection has one thread per direction;
 * {@link #log} is synchronized. The relay owns LOG's writer and closes it when {@link #run} returns; each connection's
 * thread owns that connection's two sockets.
 */
abstract class TcpRelay {

    static final String PROXY_TO_CACHE = "proxy->cache";
    static final String CACHE_TO_PROXY = "cache->proxy";
    static final int BUFFER_BYTES = 64 << 10;
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    /** The command line, parsed; {@code mode} is one of the relay's modes. */
    record Options(InetSocketAddress listen, InetSocketAddress target, String mode, Path log, long timeoutSeconds) {
    }

    /** A relay's constructor. */
    @FunctionalInterface
    interface Factory {
        TcpRelay create(Options options) throws IOException;
    }

    private final Options options;
    private final String fault;
    private final PrintWriter log;
    private final AtomicBoolean faulted = new AtomicBoolean();
    private final AtomicInteger connections = new AtomicInteger();
    private final CountDownLatch faultedConnectionDone = new CountDownLatch(1);

    /**
     * Opens LOG for appending.
     *
     * @param fault what the relay does once, in the words of its {@code exit} line: {@code flip}, {@code fault}
     */
    protected TcpRelay(Options options, String fault) throws IOException {
        this.options = options;
        this.fault = fault;
        this.log = new PrintWriter(Files.newBufferedWriter(options.log(), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND), true);
    }

    /**
     * A relay's {@code main}: parses {@code args}, then relays with the relay {@code relay} makes of them until it is
     * done. Returns the exit code: 0, or 2 after printing the usage when the arguments are wrong.
     *
     * @param name the relay's name for its usage line
     * @param modes the MODE words the relay knows
     */
    static int run(String[] args, String name, List<String> modes, long defaultTimeoutSeconds,
            Factory relay) throws IOException, InterruptedException {
        if (args.length < 6 || !modes.contains(args[4])) {
            System.err.println("usage: " + name + " LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT "
                    + String.join("|", modes) + " LOG [TIMEOUT_S]");
            return 2;
        }
        Options options = new Options(
                new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1])),
                new InetSocketAddress(InetAddress.getByName(args[2]), Integer.parseInt(args[3])),
                args[4], Path.of(args[5]), args.length > 6 ? Long.parseLong(args[6]) : defaultTimeoutSeconds);
        relay.create(options).serve();
        return 0;
    }

    /** Makes the relay's connection number {@code id}, whose sockets are both connected. */
    protected abstract Connection connection(int id, Socket proxySide, Socket cacheSide);

    /** The relay's state for an {@code exit} line after the timeout, e.g. {@code flipped: false}. */
    protected abstract String faultState();

    /** Claims the relay's one fault; true only for the first caller, which then acts. */
    protected final boolean claimFault() {
        return faulted.compareAndSet(false, true);
    }

    protected final boolean faulted() {
        return faulted.get();
    }

    protected final synchronized void log(String line) {
        log.println(Instant.now() + " " + line);
    }

    /** Relays until the faulted connection is closed or the timeout is up; closes LOG last. */
    private void serve() throws IOException, InterruptedException {
        try (log; ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(options.listen());
            Thread acceptor = new Thread(() -> acceptLoop(server), "relay-accept");
            acceptor.setDaemon(true);
            acceptor.start();
            long timeout = options.timeoutSeconds();
            log("listening " + options.listen() + " -> " + options.target() + " mode " + options.mode() + " timeout "
                    + timeout + " s");
            boolean done = faultedConnectionDone.await(timeout, TimeUnit.SECONDS);
            log(done ? "exit: the connection that carried the " + fault + " is closed"
                    : "exit: timeout after " + timeout + " s (" + faultState() + ")");
        }
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
            cacheSide.connect(options.target(), CONNECT_TIMEOUT_MILLIS);
            proxySide.setTcpNoDelay(true);
            cacheSide.setTcpNoDelay(true);
            Connection c = connection(id, proxySide, cacheSide);
            Thread down = new Thread(c::pumpCacheToProxy, "relay-" + id + "-down");
            down.setDaemon(true);
            down.start();
            c.pumpProxyToCache();
            down.join();
            log("closed connection " + id + ": " + c.up + " bytes " + PROXY_TO_CACHE + ", " + c.down + " bytes "
                    + CACHE_TO_PROXY + c.closedDetail());
            if (c.faultedHere) {
                faultedConnectionDone.countDown();
            }
        } catch (IOException | InterruptedException e) {
            log("connection " + id + " failed: " + e);
        }
    }

    /**
     * One relayed connection. Both directions pass bytes on as they come, until a relay overrides one: an end of stream
     * is passed on as a half-close, a reset or a closed socket on one side as a close of both.
     */
    abstract class Connection {
        final int id;
        final Socket proxySide;
        final Socket cacheSide;
        /** Bytes passed on proxy → cache, written by that direction's thread only. */
        volatile long up;
        /** Bytes passed on cache → proxy, written by that direction's thread only. */
        volatile long down;
        /** Set by the thread that claimed the relay's fault for this connection. */
        volatile boolean faultedHere;

        Connection(int id, Socket proxySide, Socket cacheSide) {
            this.id = id;
            this.proxySide = proxySide;
            this.cacheSide = cacheSide;
        }

        /**
         * Sees the proxy → cache bytes {@code buf[0..n)}, which start at connection offset {@link #up}, before they
         * are passed on; may change them.
         */
        void proxyToCache(byte[] buf, int n) {
        }

        /** What the {@code closed connection} line adds after the byte counts. */
        String closedDetail() {
            return "";
        }

        /** Whether an end of stream now closes both sockets rather than being passed on as a half-close. */
        boolean closesBothAtEndOfStream() {
            return false;
        }

        void pumpProxyToCache() {
            pump(proxySide, cacheSide, true);
        }

        void pumpCacheToProxy() {
            pump(cacheSide, proxySide, false);
        }

        private void pump(Socket from, Socket to, boolean toCache) {
            String direction = toCache ? PROXY_TO_CACHE : CACHE_TO_PROXY;
            byte[] buf = new byte[BUFFER_BYTES];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (toCache) {
                        proxyToCache(buf, n);
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    if (toCache) {
                        up += n;
                    } else {
                        down += n;
                    }
                }
                endOfStream(direction, to);
            } catch (IOException e) {
                failed(direction, e);
            }
        }

        final void endOfStream(String direction, Socket to) {
            log("connection " + id + " " + direction + ": end of stream");
            if (closesBothAtEndOfStream()) {
                closeBoth();
                return;
            }
            try {
                to.shutdownOutput();
            } catch (IOException e) {
                closeBoth();
            }
        }

        final void failed(String direction, IOException e) {
            log("connection " + id + " " + direction + ": " + e.getMessage());
            closeBoth();
        }

        final void closeBoth() {
            closeQuietly(proxySide);
            closeQuietly(cacheSide);
        }
    }

    /** Closes {@code socket} with a reset (SO_LINGER 0) rather than a FIN. */
    static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
        } catch (IOException e) {
            // already closed: nothing to reset
        }
        closeQuietly(socket);
    }

    static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
