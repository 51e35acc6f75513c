package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ErrorMessage;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * Guards one image-proxy connection on the cache against peers that hold resources without using them:
 * it refuses a connection above {@link CacheLimits#maxConnections()}, closes one that has not completed its
 * hello within {@link CacheLimits#handshakeTimeout()} (measured from channelActive, so a TLS handshake
 * counts), and one that has sent nothing for {@link CacheLimits#idleTimeout()}. Each gets an ERROR frame
 * (written from the tail of the pipeline, through the encoders) and a WARNING log line.
 *
 * <p>Sits right after the TLS handler, before the codecs, and sees every byte the peer sends. The receive
 * handler reports a completed hello by firing {@link #HELLO_COMPLETED} from the head of the pipeline.
 * One instance per channel, used on its event loop; the connection counter is shared by all channels.
 */
final class ConnectionGuard extends ChannelDuplexHandler {

    /** The user event that ends the handshake budget: the peer's HELLO was accepted. */
    static final Object HELLO_COMPLETED = new Object() {
        @Override
        public String toString() {
            return "HELLO_COMPLETED";
        }
    };

    /** How long a refused connection may take to take its ERROR frame before it is closed anyway. */
    private static final long CLOSE_GRACE_MILLIS = 1000;

    private static final Logger LOG = Logger.getLogger(ConnectionGuard.class.getName());
    /** How many pieces of the cache's own work the peer is waiting for on this channel (see {@link #peerWaits}). */
    private static final AttributeKey<AtomicInteger> PEER_WAITS = AttributeKey.valueOf("ferry.peerWaits");

    private final CacheLimits limits;
    private final AtomicInteger openConnections;
    private final CacheEvents events;
    private boolean counted;
    private boolean helloCompleted;
    private boolean closing;
    private long lastReadNanos;
    private ScheduledFuture<?> handshakeTimer;
    private ScheduledFuture<?> idleTimer;

    ConnectionGuard(CacheLimits limits, AtomicInteger openConnections, CacheEvents events) {
        this.limits = limits;
        this.openConnections = openConnections;
        this.events = events;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        counted = true;
        int open = openConnections.incrementAndGet();
        events.connectionOpened();
        ctx.fireChannelActive();
        if (open > limits.maxConnections()) {
            refuse(ctx, ErrorCode.RESOURCE_LIMIT, "connections open at once: " + open + " (expected: <= "
                    + limits.maxConnections() + "); raise --max-connections on the image-cache");
            return;
        }
        lastReadNanos = ctx.executor().ticker().nanoTime();
        handshakeTimer = ctx.executor().schedule(() -> handshakeExpired(ctx),
                limits.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        idleTimer = ctx.executor().schedule(() -> idleCheck(ctx),
                limits.idleTimeout().toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg); // refused: nothing more of this peer is decoded
            return;
        }
        lastReadNanos = ctx.executor().ticker().nanoTime();
        ctx.fireChannelRead(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == HELLO_COMPLETED) {
            helloCompleted = true;
            cancel(handshakeTimer);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel(handshakeTimer);
        cancel(idleTimer);
        if (counted) {
            counted = false;
            openConnections.decrementAndGet();
            events.connectionClosed();
        }
        ctx.fireChannelInactive();
    }

    private void handshakeExpired(ChannelHandlerContext ctx) {
        if (!helloCompleted && ctx.channel().isActive()) {
            refuse(ctx, ErrorCode.PROTOCOL_ERROR, "no HELLO within " + millis(limits.handshakeTimeout())
                    + " ms of connecting (expected: TLS handshake and HELLO within --handshake-timeout "
                    + limits.handshakeTimeout().toSeconds() + " s); raise --handshake-timeout on the image-cache");
        }
    }

    /**
     * The peer waits for the cache's own work on {@code channel} (a migration's restore, which may take minutes):
     * its silence is not idleness until the returned handle is closed.
     */
    static PeerWait peerWaits(Channel channel) {
        channel.attr(PEER_WAITS).setIfAbsent(new AtomicInteger());
        AtomicInteger w = channel.attr(PEER_WAITS).get();
        w.incrementAndGet();
        AtomicBoolean closed = new AtomicBoolean();
        return () -> {
            if (closed.compareAndSet(false, true)) {
                w.decrementAndGet();
            }
        };
    }

    /** The handle of {@link #peerWaits}; closing it twice is harmless. */
    interface PeerWait extends AutoCloseable {
        @Override
        void close();
    }

    private void idleCheck(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive() || closing) {
            return;
        }
        AtomicInteger waits = ctx.channel().attr(PEER_WAITS).get();
        if (waits != null && waits.get() > 0) {
            lastReadNanos = ctx.executor().ticker().nanoTime(); // the idle clock starts once the cache is done
        }
        long silentNanos = ctx.executor().ticker().nanoTime() - lastReadNanos;
        long left = limits.idleTimeout().toNanos() - silentNanos;
        if (left > 0) {
            idleTimer = ctx.executor().schedule(() -> idleCheck(ctx), left, TimeUnit.NANOSECONDS);
            return;
        }
        refuse(ctx, ErrorCode.PROTOCOL_ERROR, "connection silent for " + TimeUnit.NANOSECONDS.toMillis(silentNanos)
                + " ms (expected: a frame at least every --idle-timeout " + limits.idleTimeout().toSeconds()
                + " s); raise --idle-timeout on the image-cache");
    }

    /** Sends ERROR and closes; closes anyway if the ERROR cannot be written soon (e.g. TLS never finished). */
    private void refuse(ChannelHandlerContext ctx, ErrorCode code, String message) {
        if (closing) {
            return;
        }
        closing = true;
        cancel(handshakeTimer);
        cancel(idleTimer);
        LOG.warning(() -> "connection " + ctx.channel().remoteAddress() + ": " + code + ": " + message);
        events.error(code);
        ctx.channel().writeAndFlush(new ErrorMessage(code, message, "")).addListener(ChannelFutureListener.CLOSE);
        ctx.executor().schedule(() -> ctx.close(), CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS);
    }

    private static long millis(Duration d) {
        return d.toMillis();
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }
}
