package dev.ferry.cache;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.WireCodecs;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;

/** The pipeline of one image-proxy connection on the cache. */
final class CacheChannelInitializer extends ChannelInitializer<Channel> {

    private final SnapshotStore store;
    private final CacheEvents events;
    private final String node;

    CacheChannelInitializer(SnapshotStore store, CacheEvents events, String node) {
        this.store = store;
        this.events = events;
        this.node = node;
    }

    @Override
    protected void initChannel(Channel ch) {
        // bytes → frames → wire messages → the receive state machine; and back the same way for replies.
        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
        ch.pipeline().addLast("receive", new ImageReceiveHandler(store, events, node));
    }
}
