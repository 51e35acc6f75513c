package dev.ferry.proxy;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.SnapshotAbort;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.SnapshotReattach;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.SnapshotHeld;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.codec.SnapshotResume;
import dev.ferry.protocol.message.MigrateSpec;
import dev.ferry.protocol.codec.WireCodecs;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.ImageSink;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.tls.TlsContexts;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import java.util.zip.Checksum;

/**
 * One connection from the proxy to the image-cache, carrying one snapshot: the {@link ImageSink} the dump
 * engine writes into. Image streams share the connection, each with its own stream id. Writers block
 * while the connection is not writable (watermarks 8/16 MiB), so nothing is buffered without bound.
 *
 * <p>A migration's commit ends with a hand-over: the target holds the restored tree (SNAPSHOT_HELD) and resumes
 * it only on SNAPSHOT_RESUME. The link sends RESUME only while the dump engine still waits for the commit, and
 * once RESUME is out the engine can no longer give up on the commit (its {@code cancel} is refused), so the
 * source is never resumed after the target was told to run the tree, except when the link breaks in between.
 *
 * <p>Resume: a snapshot begun with a retry budget ({@code --retry-for}) keeps what it sent until the cache confirms it
 * (RECEIVED; at most {@link ResendWindow#DEFAULT_LIMIT} bytes, then the writers wait, and CRIU blocks in write). When
 * the connection drops before SNAPSHOT_ACK, a reconnect thread dials again with a bounded backoff (100 ms doubling to
 * 1 s) until the budget is spent, names the snapshot and its token (SNAPSHOT_REATTACH), and resends from the offsets
 * the cache holds; the writers wait meanwhile. A drop after SNAPSHOT_ACK (a migration's hand-over) fails the link as
 * before.
 *
 * <p>Ownership: the link owns its channel; {@link #close()} closes it. The first failure (an ERROR from
 * the cache, a broken connection) is kept: every later write, and the commit, fail with it.
 * Thread-safe: drain threads write concurrently; Netty orders the frames.
 */
public final class CacheLink implements ImageSink, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(CacheLink.class.getName());
    /** The hand-over of a migration: still open, RESUME sent (no way back), or given up (RESUME never sent). */
    private static final int OPEN = 0;
    private static final int RESUMING = 1;
    private static final int ABANDONED = 2;

    /** Small on purpose: the kernel's socket buffers already hold several MiB; more only delays failures. */
    private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(2 << 20, 4 << 20);

    /** The first pause before a reconnect attempt; doubled after each, up to {@link #MAX_BACKOFF_MILLIS}. */
    static final long FIRST_BACKOFF_MILLIS = 100;
    static final long MAX_BACKOFF_MILLIS = 1000;

    private final String target;
    private final Dialer dialer;
    private volatile Channel channel;
    private final Object writable = new Object();
    /** Orders a frame's entry in the window with its write, against a replay on a new connection. */
    private final Object sendLock = new Object();
    private final AtomicInteger nextStream = new AtomicInteger();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> committed = new CompletableFuture<>();
    private final CompletableFuture<Void> failed = new CompletableFuture<>();
    private final CompletableFuture<SnapshotRestored> restored = new CompletableFuture<>();
    private volatile IOException failure;
    private volatile SnapshotName snapshot;
    private volatile boolean migration;
    /** Post-copy: the commit completes at SNAPSHOT_ACK (the source must serve pages during the restore). */
    private volatile boolean lazy;
    /** {@code ferry dump --lazy}: after SNAPSHOT_ACK a restore on the target must begin within {@link #lazyTimeout}. */
    private volatile boolean lazyDump;
    private volatile Duration lazyTimeout = Duration.ZERO;
    private volatile long restoredAt;
    private volatile long heldAt;
    private final AtomicInteger handOver = new AtomicInteger(OPEN);
    private volatile Runnable onAcknowledged = () -> { };
    private volatile ReconnectListener onReconnect = ReconnectListener.NONE;
    private volatile Duration retryFor = Duration.ZERO;
    private volatile ResendWindow window; // null unless the snapshot is resumable
    private volatile long token;
    private volatile boolean reconnecting;
    private volatile boolean aborted;
    private volatile HelloAck helloAck;
    /** Post-copy: CRIU's page-server socket until the cache opens its channel, then the tunnel that owns it. */
    private volatile java.nio.channels.SocketChannel pageSocket;
    /** The dump engine's last word before a reset of {@link #pageSocket} makes CRIU resume the source; run once. */
    private final java.util.concurrent.atomic.AtomicReference<Runnable> beforeRollback =
            new java.util.concurrent.atomic.AtomicReference<>();
    private volatile dev.ferry.protocol.tunnel.ChannelTunnel tunnel;
    private final CompletableFuture<Void> lazyComplete = new CompletableFuture<>();

    private CacheLink(String target, Dialer dialer) {
        this.target = target;
        this.dialer = dialer;
    }

    /** Told about reconnects of a resumable snapshot's link, for logs, progress and metrics. */
    public interface ReconnectListener {
        ReconnectListener NONE = new ReconnectListener() { };

        /** Attempt {@code attempt} to reconnect starts; {@code where} is the image and offset confirmed last. */
        default void reconnecting(String where, int attempt, Duration left) { }

        /** The snapshot continues on a new connection; {@code resent} bytes go out again. */
        default void reattached(int attempts, long resent) { }
    }

    /** How to open one more connection to the same cache, for {@link #connect} and the reconnects. */
    private record Dialer(EventLoopGroup group, Class<? extends Channel> channelClass, String host, int port,
                          String node, SslContext tls, boolean wantFacts) {
    }

    /** One connection's own answers: its hello and its reattach. Completed by its {@link SnapshotSendHandler}. */
    static final class Dialled {
        final CompletableFuture<HelloAck> hello = new CompletableFuture<>();
        final CompletableFuture<SnapshotReattached> reattached = new CompletableFuture<>();

        void fail(IOException cause) {
            hello.completeExceptionally(cause);
            reattached.completeExceptionally(cause);
        }
    }

    /** Connects over plain TCP and says hello, like {@link #connect(EventLoopGroup, Class, String, int, String, Duration, SslContext)}. */
    public static CacheLink connect(EventLoopGroup group, Class<? extends Channel> channelClass, String host, int port,
                             String node, Duration timeout) throws CacheLinkException {
        return connect(group, channelClass, host, port, node, timeout, null);
    }

    /**
     * Connects, completes the TLS handshake when {@code tls} is given (the cache's certificate must chain to
     * {@code --tls-ca} and name {@code host}), and only then says hello; fails with
     * {@link CacheLinkException} naming the target and the cause.
     */
    public static CacheLink connect(EventLoopGroup group, Class<? extends Channel> channelClass, String host, int port,
                             String node, Duration timeout, SslContext tls) throws CacheLinkException {
        return connect(group, channelClass, host, port, node, timeout, tls, false);
    }

    /**
     * Like {@link #connect(EventLoopGroup, Class, String, int, String, Duration, SslContext)}; with {@code wantFacts}
     * the hello asks the cache for its facts, which {@link #helloAck()} then carries ({@code ferry check --target}).
     */
    public static CacheLink connect(EventLoopGroup group, Class<? extends Channel> channelClass, String host, int port,
                             String node, Duration timeout, SslContext tls, boolean wantFacts) throws CacheLinkException {
        CacheLink link = new CacheLink(host + ":" + port,
                new Dialer(group, channelClass, host, port, node, tls, wantFacts));
        Dialled dialled = new Dialled();
        link.channel = link.dial(timeout, dialled);
        link.helloAck = dialled.hello.getNow(null);
        return link;
    }

    /** Opens one connection: TCP, the TLS handshake when configured, the hello; the channel is not yet the link's. */
    private Channel dial(Duration timeout, Dialled dialled) throws CacheLinkException {
        String host = dialer.host();
        int port = dialer.port();
        SslContext tls = dialer.tls();
        Bootstrap b = new Bootstrap()
                .group(dialer.group())
                .channel(dialer.channelClass())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, timeout.toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_SNDBUF, 4 << 20)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // TLS first when configured, then bytes ↔ frames ↔ wire messages, then the link's
                        // handler for the cache's answers.
                        if (tls != null) {
                            ch.pipeline().addLast("tls", TlsContexts.clientHandler(tls, ch.alloc(), host, port));
                        }
                        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
                        ch.pipeline().addLast("send", new SnapshotSendHandler(CacheLink.this, dialled, ch));
                    }
                });
        ChannelFuture f = b.connect(host, port);
        if (!f.awaitUninterruptibly(timeout.toMillis() + 1000) || !f.isSuccess()) {
            f.channel().close();
            Throwable cause = f.cause();
            throw new CacheLinkException("cannot reach the image-cache at " + target + ": "
                    + (cause == null ? "no answer within " + timeout.toMillis() + " ms" : cause.getMessage())
                    + " (expected: 'ferry image-cache --port " + port + "' running there and reachable)", cause);
        }
        Channel ch = f.channel();
        if (tls != null) {
            awaitHandshake(ch, host, timeout);
        }
        ch.writeAndFlush(new Hello(Wire.VERSION, dialer.node(), Wire.DEFAULT_MAX_FRAME_SIZE, dialer.wantFacts()));
        try {
            dialled.hello.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            ch.close();
            throw new CacheLinkException("the image-cache at " + target + " did not answer the hello within "
                    + timeout.toMillis() + " ms (expected: HELLO_ACK); is that port a ferry image-cache?");
        } catch (ExecutionException e) {
            ch.close();
            // in TLS 1.3 the cache judges our certificate after our side of the handshake is done
            Optional<SSLException> tlsFailure = tls == null ? Optional.empty() : TlsFailures.find(e.getCause());
            if (tlsFailure.isPresent()) {
                throw new CacheLinkException(TlsFailures.describe(target, host, tlsFailure.get()), tlsFailure.get());
            }
            if (tls == null && !(e.getCause() instanceof CacheRefusedException)) {
                throw new CacheLinkException(e.getCause().getMessage() + " before answering the hello; if it runs with"
                        + " --tls-cert/--tls-key/--tls-ca (mutual TLS), give the image-proxy its own --tls-* files too",
                        e.getCause());
            }
            throw asLinkException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ch.close();
            throw new CacheLinkException("interrupted while connecting to " + target);
        }
        return ch;
    }

    private void awaitHandshake(Channel ch, String host, Duration timeout) throws CacheLinkException {
        Future<Channel> handshake = ch.pipeline().get(SslHandler.class).handshakeFuture();
        if (!handshake.awaitUninterruptibly(timeout.toMillis() + 1000)) {
            ch.close();
            throw new CacheLinkException("TLS failed: no TLS handshake with the image-cache at " + target
                    + " within " + timeout.toMillis() + " ms (expected: an image-cache started with --tls-cert/--tls-key/--tls-ca)");
        }
        if (!handshake.isSuccess()) {
            ch.close();
            throw new CacheLinkException(TlsFailures.describe(target, host, handshake.cause()), handshake.cause());
        }
    }

    public String target() {
        return target;
    }

    /** The cache's HELLO_ACK (complete once {@code connect} returned). */
    public HelloAck helloAck() {
        return helloAck;
    }

    /**
     * Announces the snapshot and waits for the cache to accept it, so that a name it holds or a size it
     * cannot take is refused before CRIU freezes anything.
     */
    public void begin(SnapshotName name, long expectedBytes, long sourcePid, Duration timeout) throws IOException {
        begin(new SnapshotBegin(name, expectedBytes, sourcePid), timeout);
    }

    /**
     * Announces the snapshot, with the source's CRIU version and, for a migration, what the target is to do;
     * a migration's preflight on the target fails this with {@link CacheRefusedException} PREFLIGHT_FAILED.
     * For a migration, {@link #commit}'s future completes only once the target reports the tree restored.
     */
    public void begin(SnapshotBegin begin, Duration timeout) throws IOException {
        SnapshotName name = begin.snapshot();
        this.snapshot = name;
        this.migration = begin.isMigration();
        if (begin.retryForMillis() > 0) {
            this.retryFor = Duration.ofMillis(begin.retryForMillis());
            this.window = new ResendWindow(ResendWindow.DEFAULT_LIMIT);
        }
        this.lazy = begin.isMigration() ? begin.migrate().getLazyPages() : begin.lazyPages();
        this.lazyDump = begin.lazyPages();
        this.lazyTimeout = Duration.ofMillis(begin.lazyTimeoutMillis());
        checkFailure();
        send(begin);
        try {
            ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new CacheLinkException("the image-cache at " + target + " did not accept snapshot " + name
                    + " within " + timeout.toMillis() + " ms (expected: SNAPSHOT_READY)");
        } catch (ExecutionException e) {
            throw asLinkException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CacheLinkException("interrupted while waiting for the image-cache at " + target);
        }
    }

    /** The first failure seen on this link, or null. */
    public IOException failure() {
        return failure;
    }

    /** Completes when the link fails (never completes normally). */
    CompletableFuture<Void> failedFuture() {
        return failed;
    }

    @Override
    public ImageOutput open(ImageName name) throws IOException {
        checkFailure();
        int id = nextStream.incrementAndGet();
        ImageOpen open = new ImageOpen(id, name);
        synchronized (sendLock) {
            ResendWindow w = window;
            if (w != null) {
                w.opened(open);
            }
            send(open);
        }
        return new ImageOutput() {
            @Override
            public void write(ByteBuffer src) throws IOException {
                while (src.hasRemaining()) {
                    awaitWritable();
                    int n = Math.min(src.remaining(), Wire.MAX_DATA_PAYLOAD);
                    ByteBuf buf = FrameBuffers.take(n);
                    ByteBuffer slice = src.slice();
                    slice.limit(n);
                    buf.writeBytes(slice);
                    src.position(src.position() + n);
                    sendData(id, buf);
                }
            }

            /**
             * Reads the pipe straight into the buffer that becomes the IMAGE_DATA payload: one copy (the pipe's),
             * where a read into the drain's buffer and a copy into a frame made two.
             */
            @Override
            public int transferFrom(ReadableByteChannel in, Checksum checksum, ByteBuffer scratch) throws IOException {
                awaitWritable();
                ByteBuf buf = FrameBuffers.takeFrame();
                int n;
                try {
                    n = in.read(buf.nioBuffer(0, FrameBuffers.READ_BYTES));
                    if (n > 0) {
                        buf.writerIndex(n);
                        checksum.update(buf.nioBuffer(0, n));
                    }
                } catch (IOException | RuntimeException e) {
                    buf.release();
                    throw e;
                }
                if (n <= 0) {
                    buf.release();
                    return n;
                }
                sendData(id, buf);
                return n;
            }

            @Override
            public void finish(long size, int crc32c) throws IOException {
                checkFailure();
                ImageEnd end = new ImageEnd(id, size, crc32c);
                synchronized (sendLock) {
                    ResendWindow w = window;
                    if (w != null) {
                        w.ended(end);
                    }
                    send(end);
                }
            }
        };
    }

    @Override
    public CompletableFuture<Void> commit(List<ImageDigest> manifest) {
        IOException f = failure;
        if (f != null) {
            return CompletableFuture.failedFuture(f);
        }
        SnapshotCommit c = new SnapshotCommit(snapshot, manifest);
        synchronized (sendLock) {
            ResendWindow w = window;
            if (w != null) {
                w.committing(c);
            }
            send(c);
        }
        if (!migration || lazy) {
            // post-copy: the target's restore already faults pages in (CRIU's restorer touches lazy memory before
            // post-restore), so the source's CRIU must leave post-dump and serve them once the images are verified
            return committed;
        }
        MigrationCommit commit = new MigrationCommit();
        restored.whenComplete((r, e) -> {
            if (e == null) {
                commit.complete(null);
            } else {
                commit.completeExceptionally(e);
            }
        });
        return commit;
    }

    /**
     * A migration's commit: completes when the target runs the tree. Cancelling it (the engine gives up) also
     * rules out RESUME; once RESUME is out it cannot be cancelled.
     */
    private final class MigrationCommit extends CompletableFuture<Void> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!handOver.compareAndSet(OPEN, ABANDONED) && handOver.get() == RESUMING) {
                return false;
            }
            return super.cancel(mayInterruptIfRunning);
        }
    }

    /** Called on the event loop when the target acknowledged the verified commit (before a migration's restore). */
    public void onAcknowledged(Runnable callback) {
        this.onAcknowledged = callback;
    }

    /** Called on the reconnect thread of a resumable snapshot's link; see {@link ReconnectListener}. */
    public void onReconnect(ReconnectListener listener) {
        this.onReconnect = listener;
    }

    /** What the target reported of a migration's restore; completes with {@link #commit}'s future. */
    public CompletableFuture<SnapshotRestored> restored() {
        return restored;
    }

    @Override
    public void abort(String reason) {
        aborted = true;
        if (channel.isActive() && snapshot != null && !committed.isDone()) {
            channel.writeAndFlush(new SnapshotAbort(snapshot, reason == null ? "" : reason));
        }
        fail(new CacheLinkException("snapshot aborted: " + reason));
    }

    private void send(WireMessage msg) {
        send(channel, msg, true);
    }

    private void send(Channel ch, WireMessage msg, boolean flush) {
        ChannelFuture written = flush ? ch.writeAndFlush(msg) : ch.write(msg);
        written.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                connectionLost(ch, new CacheLinkException("sending to the image-cache at " + target + " failed: "
                        + describe(f.cause()), f.cause()));
            }
        });
    }

    /**
     * Sends the buffer as IMAGE_DATA; for a resumable snapshot the window keeps the buffer and the wire gets a
     * duplicate (no copy: the two share the memory and its reference count).
     */
    private void sendData(int id, ByteBuf buf) {
        synchronized (sendLock) {
            ResendWindow w = window;
            if (w == null) {
                send(new ImageData(id, buf));
                return;
            }
            ByteBuf wire = buf.retainedDuplicate();
            try {
                w.sent(id, buf);
            } catch (RuntimeException e) {
                wire.release();
                throw e;
            }
            send(new ImageData(id, wire));
        }
    }

    /** Whether a drop now may be resumed: a resumable snapshot, begun, not yet acknowledged, not given up. */
    private boolean resumable() {
        return window != null && token != 0 && !committed.isDone() && failure == null && !aborted;
    }

    /**
     * The connection {@code ch} closed or failed. Only the link's current connection counts: a resumable snapshot
     * reconnects (once: a reconnect already running takes it), anything else fails the link with {@code cause}.
     */
    void connectionLost(Channel ch, IOException cause) {
        if (ch != channel) {
            return;
        }
        if (!resumable()) {
            fail(cause);
            return;
        }
        synchronized (this) {
            if (reconnecting || failure != null) {
                return;
            }
            reconnecting = true;
        }
        long lostAt = System.nanoTime();
        ch.close();
        Thread t = new Thread(() -> reconnect(cause, lostAt), "ferry-reconnect-" + snapshot);
        t.setDaemon(true);
        t.start();
    }

    /**
     * Dials again until the budget from {@code lostAt} is spent, with a backoff of 100 ms doubling to 1 s between
     * attempts; reattaches the snapshot and resends what the cache lacks. Refusals (wrong token, snapshot gone) and a
     * state that cannot be continued fail the link at once; so does a spent budget.
     */
    private void reconnect(IOException cause, long lostAt) {
        ResendWindow w = window;
        String where = w.position();
        long deadline = lostAt + retryFor.toNanos();
        long backoff = FIRST_BACKOFF_MILLIS;
        int attempt = 0;
        String last = describe(cause);
        LOG.warning(() -> "snapshot " + snapshot + ": link to the image-cache at " + target + " lost at " + where
                + " (" + describe(cause) + "); reconnecting for up to " + retryFor.toMillis() + " ms");
        while (failure == null && !aborted) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            attempt++;
            onReconnect.reconnecting(where, attempt, Duration.ofNanos(left));
            try {
                Thread.sleep(Math.min(backoff, TimeUnit.NANOSECONDS.toMillis(left)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            left = deadline - System.nanoTime();
            if (left <= 0 || failure != null || aborted) {
                break;
            }
            Duration timeout = Duration.ofNanos(Math.max(TimeUnit.MILLISECONDS.toNanos(50), left));
            Channel ch = null;
            try {
                Dialled dialled = new Dialled();
                ch = dial(timeout, dialled);
                ch.writeAndFlush(new SnapshotReattach(snapshot, token, retryFor.toMillis()));
                SnapshotReattached held = dialled.reattached.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                long resent = 0;
                synchronized (sendLock) {
                    List<WireMessage> frames = w.replay(held);
                    for (WireMessage m : frames) {
                        if (m instanceof ImageData d) {
                            resent += d.data().readableBytes();
                        }
                        send(ch, m, false);
                    }
                    ch.flush();
                    channel = ch;
                    reconnecting = false;
                }
                int attempts = attempt;
                long bytes = resent;
                LOG.info(() -> "snapshot " + snapshot + ": reattached to the image-cache at " + target + " after "
                        + attempts + " attempt(s); resending " + bytes + " bytes it lacked");
                onReconnect.reattached(attempt, resent);
                writabilityChanged();
                if (!ch.isActive()) {
                    connectionLost(ch, new CacheLinkException("the image-cache at " + target + " closed the connection"));
                }
                return;
            } catch (ExecutionException e) {
                close(ch);
                if (e.getCause() instanceof CacheRefusedException refused) {
                    fail(new CacheRefusedException(refused.code(), "link to the image-cache at " + target + " lost at "
                            + where + "; the reattach was refused: " + refused.getMessage()));
                    return;
                }
                last = describe(e.getCause());
            } catch (CacheRefusedException e) {
                close(ch);
                fail(e);
                return;
            } catch (IllegalStateException e) {
                close(ch);
                fail(new CacheLinkException("link to the image-cache at " + target + " lost at " + where
                        + "; cannot continue the snapshot: " + e.getMessage(), e));
                return;
            } catch (CacheLinkException | TimeoutException e) {
                close(ch);
                last = e instanceof TimeoutException ? "no SNAPSHOT_REATTACHED in time" : e.getMessage();
            } catch (InterruptedException e) {
                close(ch);
                Thread.currentThread().interrupt();
                break;
            }
        }
        int attempts = attempt;
        String lastProblem = last;
        fail(new CacheLinkException("link to the image-cache at " + target + " lost at " + where + " ("
                + describe(cause) + "); gave up after " + attempts + " reconnect attempt(s) in "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lostAt) + " ms (--retry-for "
                + retryFor.toMillis() + " ms; last: " + lastProblem + ")"));
    }

    private static void close(Channel ch) {
        if (ch != null) {
            ch.close();
        }
    }

    /** The first message in the cause chain, with its type: a reset or a TLS failure, never "null". */
    static String describe(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && !c.getMessage().isBlank()) {
                String what = c instanceof javax.net.ssl.SSLException ? "TLS failed: " : "";
                return what + c.getMessage();
            }
        }
        return t.getClass().getSimpleName() + " (the connection was closed or reset)";
    }

    private void awaitWritable() throws IOException {
        synchronized (writable) {
            while (reconnecting || !channel.isWritable() || windowFull()) {
                checkFailure();
                if (!reconnecting && !channel.isActive()) {
                    // record it as the link's failure now: channelInactive may not have run yet, and an abort
                    // recorded first would hide that the cache went away
                    CacheLinkException closed = new CacheLinkException("the connection to the image-cache at " + target
                            + " is closed");
                    connectionLost(channel, closed);
                    checkFailure();
                }
                try {
                    writable.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CacheLinkException("interrupted while waiting for the image-cache at " + target);
                }
            }
        }
        checkFailure();
    }

    private boolean windowFull() {
        ResendWindow w = window;
        return w != null && w.isFull();
    }

    private void checkFailure() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw f;
        }
    }

    void writabilityChanged() {
        synchronized (writable) {
            writable.notifyAll();
        }
    }

    /** Whether {@code ch} is the link's connection now (answers on a connection still being dialled are not). */
    boolean isCurrent(Channel ch) {
        return ch == channel;
    }

    void snapshotReady(SnapshotReady r) {
        token = r.token();
        if (token == 0) {
            window = null; // the cache keeps nothing for a reattach: nothing to keep here either
        }
        ready.complete(null);
    }

    /** The cache holds these offsets: what lies below them is no longer kept. */
    void received(Received r) {
        ResendWindow w = window;
        if (w != null) {
            w.confirmed(r);
            writabilityChanged();
        }
    }

    void snapshotAcknowledged(SnapshotAck ack) {
        committed.complete(null);
        ResendWindow w = window;
        if (w != null) {
            w.clear();
        }
        if (lazyDump) {
            awaitRestore(ack.snapshot());
        }
        try {
            onAcknowledged.run();
        } catch (RuntimeException e) {
            // a progress callback must not break the link
        }
    }

    /**
     * {@code ferry dump --lazy}, its snapshot committed: a {@code ferry restore --lazy} on the target must open the
     * page-server channel within the lazy timeout, or the link fails with {@link NoRestoreException} (CRIU resumes the
     * source, the cache drops the snapshot when the connection closes). Nothing was handed out by then: the target's
     * tree runs only after this link's SNAPSHOT_RESUME, which a failed link never sends.
     */
    private void awaitRestore(SnapshotName name) {
        Duration timeout = lazyTimeout;
        channel.eventLoop().schedule(() -> {
            if (tunnel == null) {
                fail(new NoRestoreException("no `ferry restore -D " + name + " --remote --lazy` began on the image-cache"
                        + " at " + target + " within " + timeout.toMillis() / 1000.0 + " s (--lazy-timeout); the"
                        + " image-cache drops the snapshot"));
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** {@code ferry dump --lazy}: no restore on the target began within the lazy timeout. */
    static final class NoRestoreException extends CacheLinkException {
        NoRestoreException(String message) {
            super(message);
        }
    }

    /**
     * The target holds the restored tree: tell it to resume, unless the engine has given up on the commit (then
     * close the link, and the target kills the tree before it ran).
     */
    void snapshotHeld(SnapshotHeld h) {
        if ((!migration && !lazyDump) || !h.snapshot().equals(snapshot)) {
            fail(new CacheLinkException("unexpected SNAPSHOT_HELD for " + h.snapshot() + " from the image-cache at "
                    + target + " (expected: only for migration or post-copy dump " + snapshot + ", after SNAPSHOT_ACK)"));
            return;
        }
        heldAt = System.nanoTime();
        boolean resume;
        synchronized (this) {
            resume = failure == null && handOver.compareAndSet(OPEN, RESUMING);
        }
        if (resume) {
            send(new SnapshotResume(h.snapshot()));
            var s = pageSocket;
            if (s != null) {
                // post-copy: from now on the target runs the tree; should this process die, the kernel's clean close
                // makes CRIU end the stale source (docs/migrate.md: stopped on both nodes), never resume it
                lingerZero(s, false);
            }
            return;
        }
        LOG.warning(() -> "snapshot " + h.snapshot() + ": the target holds the restored tree (pid " + h.pid()
                + "), but this migration was given up; not resuming it there");
        channel.close();
    }

    /** {@link System#nanoTime()} when SNAPSHOT_HELD arrived, or 0. */
    public long heldAt() {
        return heldAt;
    }

    void snapshotRestored(SnapshotRestored r) {
        restoredAt = System.nanoTime();
        restored.complete(r);
    }

    /** {@link System#nanoTime()} when SNAPSHOT_RESTORED arrived, or 0. */
    public long restoredAt() {
        return restoredAt;
    }

    /**
     * Post-copy: the dump engine's view of this link. CRIU's page-server socket waits here until the cache opens the
     * page-server channel (CHANNEL_OPEN, once its {@code criu lazy-pages} runs), then a {@link
     * dev.ferry.protocol.tunnel.ChannelTunnel} joins the two; {@code complete} is the cache's CHANNEL_CLOSE.
     */
    public dev.ferry.dump.LazyDumpEngine.PageServerLink pageServer() {
        return new dev.ferry.dump.LazyDumpEngine.PageServerLink() {
            @Override
            public void attach(java.nio.channels.SocketChannel socket, Runnable beforeRollback) {
                CacheLink.this.beforeRollback.set(beforeRollback);
                // until the target runs the tree, any end of this socket must make CRIU resume the source: a clean
                // EOF would make it end the source (closePageServer), and if this process dies the kernel closes the
                // socket for us, so the reset is armed now (SO_LINGER 0) and disarmed only at RESUME (snapshotHeld)
                lingerZero(socket, true);
                pageSocket = socket;
            }

            @Override
            public CompletableFuture<Void> failed() {
                return failed;
            }

            @Override
            public CompletableFuture<Void> complete() {
                return lazyComplete;
            }

            @Override
            public void close() {
                closePageServer();
            }

            @Override
            public boolean targetMayRun() {
                return handOver.get() == RESUMING;
            }
        };
    }

    /** Page bytes CRIU served so far through the tunnel (post-copy), or 0. */
    public long lazyBytes() {
        var t = tunnel;
        return t == null ? 0 : t.bytesOut();
    }

    /**
     * Closes CRIU's page-server socket with a reset, never a FIN: CRIU 4.2 reads a clean EOF as the end of a successful
     * lazy transfer ({@code page-xfer: Session over}, {@code Lazy pages transfer finished successfully}) and ends the
     * source, even when no page was ever asked for; only a failed read ({@code ECONNRESET}) makes it fail the transfer
     * and resume the source. Every caller closes the socket to make CRIU give up (LazySplitIT tests it).
     */
    private synchronized void closePageServer() {
        beforeReset();
        var s = pageSocket;
        if (s != null) {
            lingerZero(s, true); // close(2) then sends RST
        }
        var t = tunnel;
        if (t != null) {
            t.abort();
        }
        if (s != null) {
            try {
                s.close();
            } catch (IOException e) {
                LOG.fine(() -> "closing CRIU's page-server socket: " + e);
            }
        }
    }

    /**
     * Runs the engine's callback, once, if a reset now makes CRIU resume a source the target never ran. Called with
     * this link's lock held, right before the reset, so that a reset on another thread waits for the callback.
     */
    private void beforeReset() {
        if (handOver.get() != RESUMING) {
            Runnable r = beforeRollback.getAndSet(null);
            if (r != null) {
                r.run();
            }
        }
    }

    /** {@code SO_LINGER} 0 ({@code reset}: a close sends RST) or off (a close sends FIN); best effort. */
    private static void lingerZero(java.nio.channels.SocketChannel s, boolean reset) {
        if (!s.isOpen()) {
            return;
        }
        try {
            s.setOption(java.net.StandardSocketOptions.SO_LINGER, reset ? 0 : -1);
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> "SO_LINGER on CRIU's page-server socket: " + e);
        }
    }

    /** CHANNEL_OPEN from the cache, on the event loop: join CRIU's page-server socket to the channel. */
    synchronized void channelOpened(dev.ferry.protocol.codec.ChannelOpen open) {
        var s = pageSocket;
        if (s == null || tunnel != null || !lazy || !open.snapshot().equals(snapshot) || !s.isOpen()) {
            fail(new CacheLinkException("unexpected CHANNEL_OPEN " + open.streamId() + " for " + open.snapshot()
                    + " from the image-cache at " + target + " (expected: one page-server channel, for a post-copy"
                    + " migration or dump of " + snapshot + ")"));
            return;
        }
        var t = new dev.ferry.protocol.tunnel.ChannelTunnel(channel, open.streamId(), s, n -> { });
        tunnel = t;
        t.localEnded().whenComplete((v, e) -> {
            if (e == null) {
                t.sendClose(null, ""); // CRIU served the last page and closed its end
            }
        });
        t.start();
        LOG.info(() -> "snapshot " + snapshot + ": page-server channel " + open.streamId() + " open to " + target);
    }

    /** CHANNEL_DATA, on the event loop; takes over {@code data}. */
    void channelData(dev.ferry.protocol.codec.ChannelData data) {
        var t = tunnel;
        if (t == null || t.streamId() != data.streamId()) {
            data.release();
            fail(new CacheLinkException("CHANNEL_DATA on channel " + data.streamId() + ", which is not open"));
            return;
        }
        t.deliver(data);
    }

    /** CHANNEL_CLOSE from the cache: its {@code criu lazy-pages} ended; ok means every page arrived. */
    void channelClosed(dev.ferry.protocol.codec.ChannelClose close) {
        var t = tunnel;
        if (t == null || t.streamId() != close.streamId()) {
            fail(new CacheLinkException("CHANNEL_CLOSE on channel " + close.streamId() + ", which is not open"));
            return;
        }
        t.remoteClosed();
        if (close.ok()) {
            lazyComplete.complete(null);
        } else {
            lazyComplete.completeExceptionally(new CacheRefusedException(close.code(), close.message()));
        }
    }

    /** Records the first failure and fails everything waiting on the link. */
    void fail(IOException cause) {
        synchronized (this) {
            if (failure != null) {
                return;
            }
            failure = cause;
            handOver.compareAndSet(OPEN, ABANDONED); // no RESUME after a failure
        }
        ready.completeExceptionally(cause);
        committed.completeExceptionally(cause);
        restored.completeExceptionally(cause);
        failed.completeExceptionally(cause);
        lazyComplete.completeExceptionally(cause);
        var t = tunnel;
        if (t != null) {
            synchronized (this) { // as closePageServer: the engine's callback ends before any reset, whoever runs it
                beforeReset();
                t.abort(); // closes CRIU's page-server socket: a reset until RESUME
            }
        }
        writabilityChanged();
        if (!(cause instanceof CacheRefusedException)) {
            channel.close();
        }
    }

    private static CacheLinkException asLinkException(Throwable t) {
        return t instanceof CacheLinkException c ? c : new CacheLinkException(String.valueOf(t.getMessage()), t);
    }

    @Override
    public void close() {
        aborted = aborted || !committed.isDone();
        channel.close().awaitUninterruptibly(2000);
        ResendWindow w = window;
        if (w != null) {
            w.clear();
        }
    }
}
