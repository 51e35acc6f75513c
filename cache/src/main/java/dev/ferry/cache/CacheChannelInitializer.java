package dev.ferry.cache;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.WireCodecs;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SslContext;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** The pipeline of one image-proxy connection on the cache. */
final class CacheChannelInitializer extends ChannelInitializer<Channel> {

    private final SnapshotStore store;
    private final CacheEvents events;
    private final String node;
    private final CacheLimits limits;
    private final SslContext tls;
    private final List<String> tlsAllowed;
    private final AtomicInteger openConnections = new AtomicInteger();
    private final PeerSnapshots peerSnapshots = new PeerSnapshots();
    private final MigrationTarget migrations;
    private final ResumableSnapshots resumables;

    CacheChannelInitializer(SnapshotStore store, CacheEvents events, String node, CacheLimits limits,
                            SslContext tls, List<String> tlsAllowed, MigrationTarget migrations) {
        this.migrations = migrations;
        this.tls = tls;
        this.tlsAllowed = tlsAllowed;
        this.store = store;
        this.events = events;
        this.node = node;
        this.limits = limits;
        this.resumables = new ResumableSnapshots(store, peerSnapshots, events);
    }

    @Override
    protected void initChannel(Channel ch) {
        // TLS first, before everything: nothing is read as a frame until the peer's certificate is verified.
        if (tls != null) {
            TlsPeerGate.addFirst(ch.pipeline(), tls, tlsAllowed);
        }
        // guard: connection count, handshake and idle timeouts, over whatever bytes arrive (CacheLimits).
        ch.pipeline().addLast("guard", new ConnectionGuard(limits, openConnections, events));
        // bytes → frames → wire messages → the receive state machine; and back the same way for replies.
        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
        ch.pipeline().addLast("receive", new ImageReceiveHandler(store, events, node, limits, peerSnapshots, migrations,
                resumables));
    }
}
