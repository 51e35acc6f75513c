package dev.ferry.proxy;

import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.WireMessage;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;

/**
 * The proxy's end of one cache connection: hands the cache's answers (hello, snapshot ack, errors), the
 * connection's end and its writability to the {@link CacheLink}. Runs on the channel's event loop.
 */
final class SnapshotSendHandler extends SimpleChannelInboundHandler<WireMessage> {

    private final CacheLink link;

    SnapshotSendHandler(CacheLink link) {
        super(WireMessage.class, true);
        this.link = link;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WireMessage msg) {
        if (msg instanceof HelloAck ack) {
            link.helloAcknowledged(ack);
        } else if (msg instanceof SnapshotReady) {
            link.snapshotReady();
        } else if (msg instanceof SnapshotAck ack) {
            link.snapshotAcknowledged(ack);
        } else if (msg instanceof dev.ferry.protocol.codec.SnapshotHeld held) {
            link.snapshotHeld(held);
        } else if (msg instanceof dev.ferry.protocol.codec.SnapshotRestored restored) {
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
                    + " from the image-cache (expected: HELLO_ACK, SNAPSHOT_READY, SNAPSHOT_ACK, SNAPSHOT_HELD, SNAPSHOT_RESTORED or ERROR)"));
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
        link.fail(new CacheLinkException("the image-cache at " + link.target() + " closed the connection"));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = dev.ferry.protocol.ProtocolException.findIn(cause).map(Throwable.class::cast).orElse(cause);
        link.fail(new CacheLinkException("connection to the image-cache at " + link.target() + " failed: " + CacheLink.describe(root), root));
        ctx.close();
    }
}
