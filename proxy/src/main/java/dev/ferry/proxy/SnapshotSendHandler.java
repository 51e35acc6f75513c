package dev.ferry.proxy;

import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotHeld;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.codec.WireMessage;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;

/**
 * The proxy's end of one cache connection: hands the cache's answers (hello, snapshot ack, errors), the
 * connection's end and its writability to the {@link CacheLink}. A connection being dialled (the first, or a
 * reconnect) answers its own {@link CacheLink.Dialled} until the link takes it as its current one; what a connection
 * that is no longer current says is dropped. Runs on the channel's event loop.
 */
final class SnapshotSendHandler extends SimpleChannelInboundHandler<WireMessage> {

    private final CacheLink link;
    private final CacheLink.Dialled dialled;
    private final Channel channel;

    SnapshotSendHandler(CacheLink link, CacheLink.Dialled dialled, Channel channel) {
        super(WireMessage.class, true);
        this.link = link;
        this.dialled = dialled;
        this.channel = channel;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WireMessage msg) {
        if (msg instanceof HelloAck ack) {
            dialled.hello.complete(ack);
            return;
        }
        if (msg instanceof SnapshotReattached r) {
            dialled.reattached.complete(r);
            return;
        }
        if (msg instanceof Received r) {
            link.received(r); // offsets are facts whichever connection carried them
            return;
        }
        if (!link.isCurrent(channel)) {
            if (msg instanceof ErrorMessage error) {
                dialled.fail(new CacheRefusedException(error.code(), error.message()));
            }
            return;
        }
        if (msg instanceof SnapshotReady ready) {
            link.snapshotReady(ready);
        } else if (msg instanceof SnapshotAck ack) {
            link.snapshotAcknowledged(ack);
        } else if (msg instanceof SnapshotHeld held) {
            link.snapshotHeld(held);
        } else if (msg instanceof SnapshotRestored restored) {
            link.snapshotRestored(restored);
        } else if (msg instanceof dev.ferry.protocol.codec.ChannelData data) {
            link.channelData(data.retain()); // the tunnel owns this reference; the handler releases its own
        } else if (msg instanceof dev.ferry.protocol.codec.ChannelOpen open) {
            link.channelOpened(open);
        } else if (msg instanceof dev.ferry.protocol.codec.ChannelClose close) {
            link.channelClosed(close);
        } else if (msg instanceof ErrorMessage error) {
            link.fail(new CacheRefusedException(error.code(), error.message()));
        } else {
            link.fail(new CacheLinkException("unexpected " + msg.getClass().getSimpleName()
                    + " from the image-cache (expected: HELLO_ACK, SNAPSHOT_READY, RECEIVED, SNAPSHOT_REATTACHED,"
                    + " SNAPSHOT_ACK, SNAPSHOT_HELD, SNAPSHOT_RESTORED or ERROR)"));
            ctx.close();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        link.writabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        CacheLinkException closed = new CacheLinkException("the image-cache at " + link.target() + " closed the connection");
        dialled.fail(closed);
        link.connectionLost(channel, closed);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = dev.ferry.protocol.ProtocolException.findIn(cause).map(Throwable.class::cast).orElse(cause);
        CacheLinkException failed = new CacheLinkException("connection to the image-cache at " + link.target()
                + " failed: " + CacheLink.describe(root), root);
        dialled.fail(failed);
        link.connectionLost(channel, failed);
        ctx.close();
    }
}
