package dev.ferry.cache;

import dev.ferry.criu.CriuLog;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.CriuSwrk;
import dev.ferry.criu.CriuWorkDir;
import dev.ferry.criu.PageServerSocket;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.SocketPair;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ChannelClose;
import dev.ferry.protocol.codec.ChannelData;
import dev.ferry.protocol.codec.ChannelOpen;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.StoredImage;
import dev.ferry.protocol.tunnel.ChannelTunnel;
import dev.ferry.restore.RestoreEngine;
import dev.ferry.restore.RestoreJob;
import dev.ferry.restore.RestoreListener;
import dev.ferry.restore.RestoreOutcome;
import io.netty.channel.Channel;
import io.netty.channel.ChannelId;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The target's side of one post-copy migration: takes a {@link CriuSwrk} for the restore ({@link SpareSwrk}), writes the verified
 * snapshot (no lazy pages in it, a few hundred KiB) into a private dir on tmpfs, starts {@code criu lazy-pages
 * --page-server} with its page-server socket (fd 3, one end of a {@link SocketPair}; no port, no listener) joined to
 * a {@link ChannelTunnel} on the proxy's connection (CHANNEL_OPEN), restores with {@code lazy_pages} through the
 * swrk, and once the tree runs waits for lazy-pages to fetch the last page ({@link #awaitPages}).
 *
 * <p>Ownership: owns the tmpfs images dir, the lazy-pages process and the tunnel; {@link #close} ends and deletes
 * them (lazy-pages is killed if still running). Not thread-safe: one restore thread uses it; the tunnel table
 * ({@link Tunnels}) is shared with the event loops.
 */
final class LazyRestore implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(LazyRestore.class.getName());
    static final String LOG_FILE = "lazy-pages.log";
    /** Where images wait for the restore: tmpfs, never disk. */
    static final Path LAZY_DIR = Path.of("/dev/shm/ferry");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration STOP_GRACE = Duration.ofSeconds(3);
    private static final int CHANNEL_ID = 1;
    /** Where lazy-pages finds its page-server socket. */
    private static final int PS_FD = 3;

    /** The page-server tunnels of the connections that carry a post-copy migration, for their CHANNEL_* frames. */
    static final class Tunnels {
        private final ConcurrentMap<ChannelId, ChannelTunnel> byChannel = new ConcurrentHashMap<>();
        /**
         * Tunnels that ended with every page fetched, by connection: the proxy's own CHANNEL_CLOSE (its CRIU closed
         * after the last page) crosses ours, and may arrive after the tunnel is gone. Cleared with the connection.
         */
        private final ConcurrentMap<ChannelId, Integer> finished = new ConcurrentHashMap<>();

        /** {@code t} carries the page-server bytes of {@code channel}'s migration. */
        void open(Channel channel, ChannelTunnel t) {
            byChannel.put(channel.id(), t);
        }

        /** {@code t} ended cleanly: forget it, but take the proxy's CHANNEL_CLOSE for it still. */
        void finished(Channel channel, ChannelTunnel t) {
            if (byChannel.remove(channel.id(), t)) {
                finished.put(channel.id(), t.streamId());
                channel.closeFuture().addListener(f -> finished.remove(channel.id()));
            }
        }

        /** CHANNEL_DATA on {@code channel}; takes over {@code data}. False if no tunnel has that id there. */
        boolean data(Channel channel, ChannelData data) {
            ChannelTunnel t = byChannel.get(channel.id());
            if (t == null || t.streamId() != data.streamId()) {
                data.release();
                return false;
            }
            t.deliver(data);
            return true;
        }

        /** The proxy's CHANNEL_CLOSE: the source's CRIU served its last page and closed its end. */
        boolean close(Channel channel, ChannelClose close) {
            ChannelTunnel t = byChannel.get(channel.id());
            if (t == null || t.streamId() != close.streamId()) {
                return finished.remove(channel.id(), close.streamId());
            }
            t.remoteClosed();
            return true;
        }
    }

    private final SpareSwrk spares;
    private final RestoreEngine engine;
    private final Tunnels tunnels;
    private final CacheEvents events;
    private final Channel channel;
    private final StoredSnapshot snapshot;
    private Path images;
    private Path workDir;
    private CriuProcess lazyPages;
    private ChannelTunnel tunnel;
    private boolean pagesDone;

    LazyRestore(SpareSwrk spares, RestoreEngine engine, Tunnels tunnels, CacheEvents events, Channel channel,
                StoredSnapshot snapshot) {
        this.spares = spares;
        this.engine = engine;
        this.tunnels = tunnels;
        this.events = events;
        this.channel = channel;
        this.snapshot = snapshot;
    }

    /** Restores the tree lazily; returns once it runs. */
    RestoreOutcome restore(RestoreJob job, RestoreListener listener) throws IOException {
        String problem = CriuWorkDir.tmpfsProblem(LAZY_DIR);
        if (problem != null) {
            throw new IOException(problem);
        }
        images = CriuWorkDir.create(LAZY_DIR, "r");
        SpareSwrk.Ready ready = spares.take(); // started at the preflight: the request costs no process start
        workDir = ready.workDir();
        CriuSwrk swrk = ready.swrk();
        try {
            for (ImageDigest d : snapshot.manifest()) {
                StoredImage image = snapshot.find(d.name()).orElseThrow(() -> new IOException("image " + d.name()
                        + " of snapshot " + snapshot.name() + " is gone"));
                try (FileChannel out = FileChannel.open(images.resolve(d.name().value()), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE)) {
                    image.writeTo(out);
                }
            }
            FileDescriptorHandle[] pair = SocketPair.stream();
            try {
                lazyPages = spares.criu().spawn(List.of("lazy-pages", "--page-server", "--ps-socket",
                        Integer.toString(PS_FD), "-D", images.toString(), "-W", workDir.toString(),
                        "-o", LOG_FILE, "-v4"), workDir, Map.of(PS_FD, pair[1]));
                tunnel = new ChannelTunnel(channel, CHANNEL_ID, SocketPair.channel(pair[0]), events::lazyBytesReceived);
            } catch (IOException | RuntimeException e) {
                pair[0].closeQuietly();
                throw e;
            } finally {
                pair[1].closeQuietly(); // lazy-pages has its copy; ours would hide its end (no EOF)
            }
            tunnels.open(channel, tunnel);
            channel.writeAndFlush(new ChannelOpen(CHANNEL_ID, snapshot.name(), ChannelOpen.PAGE_SERVER));
            tunnel.start();
            awaitLazySocket();
        } catch (IOException | RuntimeException e) {
            swrk.close();
            throw e;
        }
        return engine.restoreLazy(job, swrk, images, workDir, listener);
    }

    private void awaitLazySocket() throws IOException {
        Path socket = PageServerSocket.lazySocket(workDir);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!Files.exists(socket)) {
            if (!lazyPages.isAlive()) {
                throw new IOException("criu lazy-pages exited (" + lazyPages.exitValue() + ") before it listened: "
                        + String.join(" | ", CriuLog.excerpt(workDir.resolve(LOG_FILE), 5)) + "; log: " + workDir.resolve(LOG_FILE));
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IOException("criu lazy-pages did not create " + socket + " within " + START_TIMEOUT.toSeconds() + " s");
            }
            // the source is frozen meanwhile: look every 0.2 ms (a sleep(1) is 1.1 ms here), for the few ms it takes
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while starting criu lazy-pages");
            }
        }
    }

    /** Page bytes that reached lazy-pages so far. */
    long bytes() {
        return tunnel == null ? 0 : tunnel.bytesIn();
    }

    /**
     * Waits until {@code criu lazy-pages} exits having fetched every page, then tells the proxy (CHANNEL_CLOSE ok).
     * Null on success; otherwise why the tree cannot go on (the link closed, lazy-pages failed, the timeout
     * passed), after telling the proxy if the link is still up. Never waits beyond {@code timeout}.
     */
    String awaitPages(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String why = null;
        try {
            while (!lazyPages.waitFor(Duration.ofMillis(20))) {
                if (!channel.isActive()) {
                    why = "the connection to the image-proxy closed with pages still on the source";
                    break;
                }
                if (System.nanoTime() - deadline >= 0) {
                    why = "criu lazy-pages did not fetch every page within " + timeout.toSeconds() + " s";
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            why = "interrupted";
        }
        if (!lazyPages.isAlive()) {
            events.lazyFaults(countFaults(workDir.resolve(LOG_FILE)));
        }
        if (why == null && lazyPages.exitValue() != 0) {
            why = "criu lazy-pages failed (exit " + lazyPages.exitValue() + "): "
                    + String.join(" | ", CriuLog.excerpt(workDir.resolve(LOG_FILE), 5)) + "; log: " + workDir.resolve(LOG_FILE);
        }
        if (why == null) {
            tunnel.sendClose(null, "");
            pagesDone = true;
        } else {
            lazyPages.stop(STOP_GRACE);
            tunnel.sendClose(ErrorCode.INTERNAL, "target: " + why);
        }
        return why;
    }

    /**
     * The page faults {@code criu lazy-pages} served on demand, from its log ({@code uffd: PID-FD: #PF at ADDR}, one
     * line each at -v4); 0 if the log cannot be read. Pages it fetched in the background are not faults.
     */
    static long countFaults(Path log) {
        try (Stream<String> lines = Files.lines(log, java.nio.charset.StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.contains(": #PF at ")).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            LOG.fine(() -> "counting the faults in " + log + ": " + e.getMessage());
            return 0;
        }
    }

    @Override
    public void close() {
        if (tunnel != null) {
            if (pagesDone) {
                tunnels.finished(channel, tunnel);
            } else {
                tunnels.byChannel.remove(channel.id(), tunnel);
            }
            tunnel.abort();
        }
        if (lazyPages != null) {
            lazyPages.stop(STOP_GRACE);
        }
        spares.refill(); // for the next one, now that this one no longer runs on the frozen path
        if (images != null) {
            CriuWorkDir.delete(images);
        }
    }
}
