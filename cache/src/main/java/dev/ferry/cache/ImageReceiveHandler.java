package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
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
import dev.ferry.protocol.codec.SnapshotResume;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;

import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Receives snapshots from one image-proxy connection: hello first, then one snapshot at a time, its image
 * streams interleaved by stream id, each copied into memory the cache owns and checked (size, CRC32C) as
 * it arrives, then the commit, verified against its manifest before it is acknowledged.
 *
 * <p>Any violation is answered with an ERROR frame, the connection's uncommitted snapshot is dropped and
 * the connection closed; other connections are not affected. One instance per channel, used only on its
 * event loop. It releases every {@link ImageData} it receives.
 *
 * <p>Resume: a snapshot begun with a retry budget gets a resume token in SNAPSHOT_READY, its received offsets go back
 * to the proxy in RECEIVED frames (one per {@link #ACK_EVERY_BYTES} received, over all its streams), and when its
 * connection drops before the commit it is parked in {@link ResumableSnapshots} instead of dropped, until a
 * SNAPSHOT_REATTACH on a new connection claims it (docs/wire-format.md, "Resume").
 */
final class ImageReceiveHandler extends SimpleChannelInboundHandler<WireMessage> {

    private static final Logger LOG = Logger.getLogger(ImageReceiveHandler.class.getName());
    /** A resumable snapshot's received offsets go back to the proxy once this many bytes arrived since the last. */
    static final int ACK_EVERY_BYTES = 2 << 20;
    /** A post-copy dump's lazy timeout when its SNAPSHOT_BEGIN names none (the proxy's default). */
    static final long DEFAULT_LAZY_TIMEOUT_MILLIS = 600_000;

    private final SnapshotStore store;
    private final CacheEvents events;
    private final String node;
    private final CacheLimits limits;
    private final PeerSnapshots peerSnapshots;
    private final MigrationTarget migrations;
    private final ResumableSnapshots resumables;
    private Map<Integer, MemoryImage> streams = new HashMap<>();
    private ResumableSnapshots.Entry resumable; // of current, or null when it is not resumable
    private final Set<Integer> unacknowledged = new LinkedHashSet<>();
    private long unacknowledgedBytes;
    private boolean reattaching;
    private boolean helloSeen;
    private String peer = "?";
    private String peerKey;
    private StoredSnapshot current;
    private dev.ferry.protocol.message.MigrateSpec currentMigration; // of current, or null for a plain dump
    private SnapshotName lastCommitted; // a name only: the snapshot itself belongs to the store
    private boolean failed;

    /** A handler with the default {@link CacheLimits} and a per-peer count of its own (tests). */
    ImageReceiveHandler(SnapshotStore store, CacheEvents events, String node) {
        this(store, events, node, CacheLimits.defaults(), new PeerSnapshots(), null);
    }

    /**
     * @param peerSnapshots shared by all connections of the cache, for {@link CacheLimits#maxSnapshotsPerPeer()}
     */
    ImageReceiveHandler(SnapshotStore store, CacheEvents events, String node, CacheLimits limits,
                        PeerSnapshots peerSnapshots) {
        this(store, events, node, limits, peerSnapshots, null, null);
    }

    /** @param migrations the target's half of migrations, or null to refuse them */
    ImageReceiveHandler(SnapshotStore store, CacheEvents events, String node, CacheLimits limits,
                        PeerSnapshots peerSnapshots, MigrationTarget migrations) {
        this(store, events, node, limits, peerSnapshots, migrations, null);
    }

    /** @param resumables the snapshots that may outlive their connection, shared by all connections; null: none may */
    ImageReceiveHandler(SnapshotStore store, CacheEvents events, String node, CacheLimits limits,
                        PeerSnapshots peerSnapshots, MigrationTarget migrations, ResumableSnapshots resumables) {
        super(WireMessage.class, false);
        this.resumables = resumables;
        this.migrations = migrations;
        this.store = store;
        this.events = events;
        this.node = node;
        this.limits = limits;
        this.peerSnapshots = peerSnapshots;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        peer = String.valueOf(ctx.channel().remoteAddress());
        peerKey = PeerSnapshots.keyOf(ctx.channel().remoteAddress());
        ctx.fireChannelActive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WireMessage msg) {
        try {
            if (failed) {
                return; // everything after an error is dropped until the close completes
            }
            handle(ctx, msg);
        } catch (ProtocolException e) {
            fail(ctx, e.code(), e.getMessage());
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void handle(ChannelHandlerContext ctx, WireMessage msg) {
        if (!helloSeen) {
            if (!(msg instanceof Hello hello)) {
                throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME,
                        "first frame: " + msg.getClass().getSimpleName() + " (expected: HELLO)");
            }
            helloSeen = true;
            peer = hello.node() + "@" + ctx.channel().remoteAddress();
            if (hello.wantFacts() && migrations != null) {
                // ferry check --target: the answer waits for this node's facts (probed once, off the event loop)
                migrations.facts().whenComplete((facts, e) -> {
                    if (e != null) {
                        LOG.warning(() -> "probing this node's facts for " + peer + " failed: " + e);
                    }
                    ctx.writeAndFlush(new HelloAck(Wire.VERSION, node, Wire.DEFAULT_MAX_FRAME_SIZE, facts));
                });
            } else {
                ctx.writeAndFlush(new HelloAck(Wire.VERSION, node, Wire.DEFAULT_MAX_FRAME_SIZE));
            }
            // Ends the handshake budget of ConnectionGuard, which sits before the codecs.
            ctx.pipeline().fireUserEventTriggered(ConnectionGuard.HELLO_COMPLETED);
            return;
        }
        if (msg instanceof SnapshotBegin begin) {
            if (current != null) {
                throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "SNAPSHOT_BEGIN " + begin.snapshot()
                        + " while " + current.name() + " is still open (expected: one snapshot at a time per connection)");
            }
            if (begin.isMigration()) {
                String problem = migrations == null ? "this image-cache does not restore migrations" : migrations.preflight(begin);
                if (problem != null) {
                    LOG.warning(() -> "snapshot " + begin.snapshot() + ": migration from " + peer + " refused: " + problem);
                    throw new ProtocolException(ErrorCode.PREFLIGHT_FAILED, "migration of " + begin.snapshot()
                            + " refused before anything was frozen: " + problem);
                }
            }
            if (begin.lazyPages()) {
                String problem = migrations == null ? "this image-cache does not do post-copy (--lazy)"
                        : migrations.lazyPreflight(begin);
                if (problem != null) {
                    LOG.warning(() -> "snapshot " + begin.snapshot() + ": post-copy dump from " + peer + " refused: " + problem);
                    throw new ProtocolException(ErrorCode.PREFLIGHT_FAILED, "post-copy dump of " + begin.snapshot()
                            + " refused before anything was frozen: " + problem);
                }
            }
            if (peerKey == null) {
                peerKey = PeerSnapshots.keyOf(ctx.channel().remoteAddress());
            }
            if (!peerSnapshots.tryAcquire(peerKey, limits.maxSnapshotsPerPeer())) {
                events.snapshotRefused(ErrorCode.RESOURCE_LIMIT);
                throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "SNAPSHOT_BEGIN " + begin.snapshot() + ": "
                        + peerSnapshots.receiving(peerKey) + " snapshots already being received from " + peerKey
                        + " (expected: < " + limits.maxSnapshotsPerPeer()
                        + "); raise --max-snapshots-per-peer on the image-cache");
            }
            try {
                current = store.begin(begin.snapshot(), peer, begin.expectedBytes());
            } catch (RuntimeException e) {
                peerSnapshots.release(peerKey);
                events.snapshotRefused(e instanceof ProtocolException pe ? pe.code() : ErrorCode.INTERNAL);
                LOG.info(() -> "snapshot " + begin.snapshot() + ": refused from " + peer + ": " + e.getMessage());
                throw e;
            }
            currentMigration = begin.migrate();
            if (begin.lazyPages()) {
                current.lazy(java.time.Duration.ofMillis(begin.lazyTimeoutMillis() > 0 ? begin.lazyTimeoutMillis()
                        : DEFAULT_LAZY_TIMEOUT_MILLIS));
            }
            long token = 0;
            if (begin.retryForMillis() > 0 && resumables != null) {
                resumable = resumables.register(begin.snapshot(), peerIdentity(ctx),
                        ResumableSnapshots.budget(begin.retryForMillis()), ctx.channel());
                token = resumable.token;
            }
            // the source freezes only now: fault in the memory the snapshots being received reserved and have not
            // taken yet (this one's and the others'), while CRIU gets ready
            store.chunks().prefault(store.budget().ahead());
            events.snapshotBegun(current, begin.expectedBytes());
            LOG.info(() -> "snapshot " + begin.snapshot() + ": receiving from " + peer + " (source pid "
                    + begin.sourcePid() + ", about " + begin.expectedBytes() + " bytes"
                    + (begin.isMigration() ? ", migration" : begin.lazyPages() ? ", post-copy: pages stay there" : "") + ")");
            ctx.writeAndFlush(new SnapshotReady(begin.snapshot(), token));
        } else if (msg instanceof ImageOpen open) {
            StoredSnapshot s = requireSnapshot("IMAGE_OPEN");
            if (streams.containsKey(open.streamId())) {
                throw new ProtocolException(ErrorCode.DUPLICATE_IMAGE,
                        "IMAGE_OPEN for stream " + open.streamId() + ", which is already open (expected: a new stream id)");
            }
            if (s.imageCount() >= limits.maxImagesPerSnapshot()) {
                throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "IMAGE_OPEN " + open.name() + ": snapshot "
                        + s.name() + " already has " + s.imageCount() + " images (expected: <= "
                        + limits.maxImagesPerSnapshot() + "); raise --max-images on the image-cache");
            }
            MemoryImage image = new MemoryImage(open.name(), ctx.alloc(), s.memory(), store.chunks());
            s.add(image);
            streams.put(open.streamId(), image);
        } else if (msg instanceof ImageData data) {
            MemoryImage image = stream(data.streamId(), "IMAGE_DATA");
            int n = data.data().readableBytes();
            image.append(data.data());
            events.bytesReceived(n);
            if (resumable != null) {
                unacknowledged.add(data.streamId());
                unacknowledgedBytes += n;
                if (unacknowledgedBytes >= ACK_EVERY_BYTES) {
                    acknowledgeReceived(ctx);
                }
            }
        } else if (msg instanceof ImageEnd end) {
            MemoryImage image = stream(end.streamId(), "IMAGE_END");
            if (image.size() != end.size() || image.crc32c() != end.crc32c()) {
                throw new ProtocolException(ErrorCode.INTEGRITY, String.format(
                        "image %s: size %d crc32c %08x received (expected: size %d crc32c %08x from IMAGE_END)",
                        image.name(), image.size(), image.crc32c(), end.size(), end.crc32c()));
            }
            image.complete();
            streams.remove(end.streamId());
            unacknowledged.remove(end.streamId());
            events.imageReceived(image.name());
        } else if (msg instanceof SnapshotCommit commit) {
            StoredSnapshot s = requireSnapshot("SNAPSHOT_COMMIT");
            if (!s.name().equals(commit.snapshot())) {
                throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME,
                        "SNAPSHOT_COMMIT for " + commit.snapshot() + " (expected: " + s.name() + ")");
            }
            if (!streams.isEmpty()) {
                throw new ProtocolException(ErrorCode.MANIFEST_MISMATCH, "SNAPSHOT_COMMIT of " + s.name() + " with "
                        + streams.size() + " image(s) still open (expected: IMAGE_END for every image first)");
            }
            s.verify(commit.images());
            store.commit(s);
            current = null;
            forgetResumable();
            lastCommitted = s.name();
            peerSnapshots.release(peerKey);
            LOG.info(() -> "snapshot " + s.name() + ": committed, " + s.imageCount() + " images, " + s.bytes()
                    + " bytes, verified, from " + peer);
            events.snapshotCommitted(s);
            ctx.writeAndFlush(new SnapshotAck(s.name(), s.bytes(), s.imageCount()));
            if (currentMigration != null) {
                migrations.restoreAfterCommit(s, currentMigration, ctx.channel(), peer);
                currentMigration = null;
            } else if (s.isLazy()) {
                migrations.lazySnapshots().hold(s, ctx.channel(), peer);
            }
        } else if (msg instanceof SnapshotAbort abort) {
            if (current != null && current.name().equals(abort.snapshot())) {
                LOG.info(() -> "snapshot " + abort.snapshot() + ": aborted by " + peer + ": " + abort.reason());
                dropCurrent("aborted");
            }
        } else if (msg instanceof SnapshotResume resume) {
            if (migrations == null || !migrations.resume(ctx.channel(), resume.snapshot())) {
                throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "SNAPSHOT_RESUME for " + resume.snapshot()
                        + ", which is not held for this connection (expected: SNAPSHOT_RESUME only in answer to"
                        + " SNAPSHOT_HELD)");
            }
        } else if (msg instanceof SnapshotReattach reattach) {
            reattach(ctx, reattach);
        } else if (msg instanceof dev.ferry.protocol.codec.ChannelData data) {
            if (migrations == null || !migrations.tunnels().data(ctx.channel(), data.retain())) {
                throw new ProtocolException(ErrorCode.UNKNOWN_STREAM, "CHANNEL_DATA on channel " + data.streamId()
                        + ", which is not open on this connection (expected: CHANNEL_OPEN from this cache first)");
            }
        } else if (msg instanceof dev.ferry.protocol.codec.ChannelClose close) {
            if (migrations == null || !migrations.tunnels().close(ctx.channel(), close)) {
                throw new ProtocolException(ErrorCode.UNKNOWN_STREAM, "CHANNEL_CLOSE on channel " + close.streamId()
                        + ", which is not open on this connection");
            }
        } else if (msg instanceof ErrorMessage error) {
            LOG.warning(() -> "peer " + peer + " reported " + error.code() + ": " + error.message());
            dropCurrent("peer error");
            ctx.close();
        } else {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME,
                    msg.getClass().getSimpleName() + " from an image-proxy (expected: snapshot or image frames)");
        }
    }

    /** Sends the offsets of the streams that received bytes since the last RECEIVED; coalesced, one small frame. */
    private void acknowledgeReceived(ChannelHandlerContext ctx) {
        List<Received.StreamOffset> offsets = new ArrayList<>(unacknowledged.size());
        for (int id : unacknowledged) {
            MemoryImage image = streams.get(id);
            if (image != null) {
                offsets.add(new Received.StreamOffset(id, image.size()));
            }
        }
        unacknowledged.clear();
        unacknowledgedBytes = 0;
        if (!offsets.isEmpty()) {
            ctx.writeAndFlush(new Received(offsets));
        }
    }

    /**
     * A new connection continues a snapshot whose connection dropped: checks the token and the peer
     * ({@link ResumableSnapshots#claim}), takes over what the old connection was receiving, and answers with what is
     * held of each image. Frames before the answer are refused: the proxy sends nothing until it has it.
     */
    private void reattach(ChannelHandlerContext ctx, SnapshotReattach r) {
        if (current != null || reattaching) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "SNAPSHOT_REATTACH " + r.snapshot() + " while "
                    + (current != null ? current.name() + " is open" : "another reattach is pending")
                    + " (expected: on a new connection, right after HELLO)");
        }
        if (resumables == null) {
            throw new ProtocolException(ErrorCode.REATTACH_REFUSED, "SNAPSHOT_REATTACH " + r.snapshot()
                    + ": this image-cache keeps no snapshot for a reattach");
        }
        String identity = peerIdentity(ctx);
        reattaching = true;
        resumables.claim(r.snapshot(), r.token(), identity, ctx.channel()).whenComplete((entry, failure) ->
                ctx.executor().execute(() -> reattached(ctx, r, entry, failure)));
    }

    private void reattached(ChannelHandlerContext ctx, SnapshotReattach r, ResumableSnapshots.Entry entry, Throwable failure) {
        reattaching = false;
        if (failure != null) {
            Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            ProtocolException pe = cause instanceof ProtocolException p ? p
                    : new ProtocolException(ErrorCode.INTERNAL, String.valueOf(cause));
            LOG.warning(() -> "snapshot " + r.snapshot() + ": reattach from " + peer + " refused: " + pe.getMessage());
            fail(ctx, pe.code(), pe.getMessage());
            return;
        }
        ResumableSnapshots.Receiving was = resumables.takeReceiving(entry);
        if (!ctx.channel().isActive() || failed) {
            // this connection went away too: park again for what is left of the budget
            resumables.park(entry, was, ctx.executor());
            return;
        }
        entry.retryFor = ResumableSnapshots.budget(r.retryForMillis());
        resumable = entry;
        current = was.snapshot();
        streams = was.streams();
        currentMigration = was.migration();
        peerKey = was.peerKey();
        List<SnapshotReattached.HeldImage> held = new ArrayList<>();
        Map<dev.ferry.protocol.image.ImageName, Integer> open = new HashMap<>();
        streams.forEach((id, image) -> open.put(image.name(), id));
        for (MemoryImage image : current.images()) {
            Integer id = open.get(image.name());
            held.add(new SnapshotReattached.HeldImage(image.name(), id == null ? 0 : id, image.size(),
                    image.isComplete()));
        }
        long bytes = current.bytes();
        LOG.info(() -> "snapshot " + r.snapshot() + ": reattached by " + peer + ", " + held.size() + " images, "
                + bytes + " bytes held");
        ctx.writeAndFlush(new SnapshotReattached(r.snapshot(), held));
    }

    /** Who the peer is for a reattach: its certificate's names with TLS, else its IP address. */
    private static String peerIdentity(ChannelHandlerContext ctx) {
        io.netty.handler.ssl.SslHandler ssl = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class);
        if (ssl != null) {
            try {
                var certs = ssl.engine().getSession().getPeerCertificates();
                if (certs.length > 0 && certs[0] instanceof X509Certificate cert) {
                    return "TLS peer " + dev.ferry.protocol.tls.PeerNames.of(cert);
                }
            } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                return "unverified TLS peer at " + hostOf(ctx);
            }
        }
        return "plain peer " + hostOf(ctx);
    }

    private static String hostOf(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a && a.getAddress() != null
                ? a.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
    }

    private void forgetResumable() {
        if (resumable != null) {
            resumables.forget(resumable);
            resumable = null;
        }
        unacknowledged.clear();
        unacknowledgedBytes = 0;
    }

    /**
     * The connection dropped (closed or failed, not refused): a resumable snapshot is parked for a reattach; true if
     * it was, false if there was nothing to park.
     */
    private boolean parkCurrent(ChannelHandlerContext ctx) {
        if (current == null || resumable == null) {
            return false;
        }
        ResumableSnapshots.Receiving r = new ResumableSnapshots.Receiving(current, streams, currentMigration, peerKey);
        ResumableSnapshots.Entry e = resumable;
        current = null;
        streams = new HashMap<>();
        currentMigration = null;
        resumable = null;
        unacknowledged.clear();
        unacknowledgedBytes = 0;
        resumables.park(e, r, ctx.executor());
        return true;
    }

    private StoredSnapshot requireSnapshot(String frame) {
        if (current == null) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, frame + " with no open snapshot"
                    + afterCommit() + " (expected: SNAPSHOT_BEGIN first)");
        }
        return current;
    }

    private MemoryImage stream(int streamId, String frame) {
        MemoryImage image = streams.get(streamId);
        if (image == null) {
            throw new ProtocolException(ErrorCode.UNKNOWN_STREAM, frame + " for stream " + streamId
                    + ", which is not open" + afterCommit() + " (expected: IMAGE_OPEN first)");
        }
        return image;
    }

    /** Names the snapshot committed last on this connection, so that data sent after its commit is explained. */
    private String afterCommit() {
        return current == null && lastCommitted != null
                ? "; snapshot " + lastCommitted + " is already committed and takes no more data" : "";
    }

    private void fail(ChannelHandlerContext ctx, ErrorCode code, String message) {
        if (failed) {
            return;
        }
        failed = true;
        String snapshot = current == null ? "" : current.name().value();
        LOG.warning(() -> "connection " + peer + ": " + code + ": " + message);
        events.error(code);
        if ((code == ErrorCode.INTEGRITY || code == ErrorCode.MANIFEST_MISMATCH) && current != null) {
            markCurrentBad(code + ": " + message);
        } else {
            dropCurrent(code.name());
        }
        ctx.writeAndFlush(new ErrorMessage(code, message, snapshot)).addListener(ChannelFutureListener.CLOSE);
    }

    /** The open snapshot failed verification: it stays listed as BAD (memory freed) and is never served. */
    private void markCurrentBad(String reason) {
        forgetResumable();
        streams.clear();
        currentMigration = null;
        StoredSnapshot s = current;
        current = null;
        peerSnapshots.release(peerKey);
        if (store.markBad(s, reason)) {
            LOG.warning(() -> "snapshot " + s.name() + ": marked BAD, never served: " + reason);
            events.snapshotDropped(s, "bad");
        }
    }

    private void dropCurrent(String why) {
        forgetResumable();
        streams.clear();
        currentMigration = null;
        if (current != null) {
            StoredSnapshot s = current;
            current = null;
            peerSnapshots.release(peerKey);
            if (store.drop(s)) {
                events.snapshotDropped(s, why);
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!failed && parkCurrent(ctx)) {
            ctx.fireChannelInactive();
            return;
        }
        if (current != null) {
            LOG.info("snapshot " + current.name() + ": connection from " + peer + " closed before commit; dropped");
            dropCurrent("connection closed");
        }
        ctx.fireChannelInactive();
    }

    private static String describe(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && !c.getMessage().isBlank()) {
                return c.getClass().getSimpleName() + ": " + c.getMessage();
            }
        }
        return t.getClass().getSimpleName();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        java.util.Optional<ProtocolException> pe = ProtocolException.findIn(cause);
        if (pe.isPresent()) {
            fail(ctx, pe.get().code(), pe.get().getMessage());
        } else if (root instanceof java.io.IOException) {
            // a broken or tampered link (with TLS: a record that fails its MAC) loses the open snapshot
            if (current != null) {
                String snapshot = current.name().value();
                LOG.warning(() -> "snapshot " + snapshot + ": connection " + peer + " failed before commit ("
                        + describe(root) + "); dropped");
            } else {
                LOG.fine(() -> "connection " + peer + ": " + root);
            }
            if (!parkCurrent(ctx)) {
                dropCurrent("I/O error");
            }
            ctx.close();
        } else {
            LOG.log(Level.WARNING, "connection " + peer + ": internal error", root);
            fail(ctx, ErrorCode.INTERNAL, String.valueOf(root));
        }
    }
}
