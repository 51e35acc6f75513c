package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotHeld;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.codec.SnapshotResume;
import dev.ferry.protocol.codec.WireCodecs;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy's half of a migration's hand-over against a scripted image-cache over loopback TCP: SNAPSHOT_HELD is
 * answered with SNAPSHOT_RESUME only while the dump engine still waits for the commit, and once RESUME is out the
 * engine can no longer give up on the commit.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MigrationHandOverTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final SnapshotName NAME = SnapshotName.of("mig1");

    private MultiThreadIoEventLoopGroup group;
    private Channel server;
    /** What the scripted cache received after the hello, in order. */
    private final BlockingQueue<WireMessage> received = new LinkedBlockingQueue<>();
    private final CompletableFuture<Channel> peer = new CompletableFuture<>();
    private final CompletableFuture<Void> peerClosed = new CompletableFuture<>();

    @BeforeEach
    void start() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
                        ch.pipeline().addLast(new ScriptedCache());
                        ch.closeFuture().addListener(f -> peerClosed.complete(null));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    @AfterEach
    void stop() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Answers the hello, SNAPSHOT_BEGIN and SNAPSHOT_COMMIT like a cache; records everything else. */
    private final class ScriptedCache extends SimpleChannelInboundHandler<WireMessage> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WireMessage msg) {
            if (msg instanceof Hello) {
                peer.complete(ctx.channel());
                ctx.writeAndFlush(new HelloAck(Wire.VERSION, "target", Wire.DEFAULT_MAX_FRAME_SIZE));
            } else if (msg instanceof SnapshotBegin b) {
                ctx.writeAndFlush(new SnapshotReady(b.snapshot()));
            } else if (msg instanceof SnapshotCommit c) {
                ctx.writeAndFlush(new SnapshotAck(c.snapshot(), 0, 0));
                received.add(msg);
            } else {
                received.add(msg);
            }
        }
    }

    /** A migration begun and committed (no images): the future the dump engine would wait on. */
    private CompletableFuture<Void> committedMigration(CacheLink link) throws Exception {
        link.begin(new SnapshotBegin(NAME, 0, 77, "4.2.1", MigrateSpec.newBuilder().setRestoreTimeoutMillis(60_000).build()),
                TIMEOUT);
        CompletableFuture<Void> commit = link.commit(List.of());
        assertInstanceOf(SnapshotCommit.class, received.poll(5, TimeUnit.SECONDS), "the cache got no commit");
        return commit;
    }

    private CacheLink connect() throws Exception {
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        return CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", port, "source", TIMEOUT);
    }

    @Test
    void heldIsAnsweredWithResume_thenTheCommitCannotBeGivenUp_andCompletesOnRestored() throws Exception {
        try (CacheLink link = connect()) {
            CompletableFuture<Void> commit = committedMigration(link);
            Channel cache = peer.get(5, TimeUnit.SECONDS);

            cache.writeAndFlush(new SnapshotHeld(NAME, 4242));
            WireMessage answer = received.poll(5, TimeUnit.SECONDS);
            assertEquals(new SnapshotResume(NAME), answer, "SNAPSHOT_HELD was not answered with SNAPSHOT_RESUME");
            assertTrue(link.heldAt() > 0);

            assertFalse(commit.cancel(false), "the engine could give up after the target was told to resume");
            assertFalse(commit.isDone());

            cache.writeAndFlush(new SnapshotRestored(NAME, 4242, 120, 0));
            commit.get(5, TimeUnit.SECONDS);
            assertEquals(4242, link.restored().get().pid());
        }
    }

    @Test
    void aCommitGivenUpBeforeHeld_getsNoResume_andTheLinkCloses() throws Exception {
        try (CacheLink link = connect()) {
            CompletableFuture<Void> commit = committedMigration(link);
            Channel cache = peer.get(5, TimeUnit.SECONDS);

            assertTrue(commit.cancel(false), "the engine could not give up before the target held the tree");
            assertThrows(CancellationException.class, commit::join);

            cache.writeAndFlush(new SnapshotHeld(NAME, 4242));
            peerClosed.get(5, TimeUnit.SECONDS); // closing is how the target learns: it kills the tree unrun
            assertNull(received.poll(300, TimeUnit.MILLISECONDS), "something was sent for a given-up migration");
        }
    }

    @Test
    void aLinkThatFailedBeforeHeld_neverSendsResume() throws Exception {
        try (CacheLink link = connect()) {
            CompletableFuture<Void> commit = committedMigration(link);
            Channel cache = peer.get(5, TimeUnit.SECONDS);

            link.abort("the dump failed");
            ExecutionException e = assertThrows(ExecutionException.class, () -> commit.get(5, TimeUnit.SECONDS));
            assertNotNull(e.getCause());
            cache.writeAndFlush(new SnapshotHeld(NAME, 4242));
            peerClosed.get(5, TimeUnit.SECONDS);
            for (WireMessage m = received.poll(300, TimeUnit.MILLISECONDS); m != null; m = received.poll(100, TimeUnit.MILLISECONDS)) {
                assertFalse(m instanceof SnapshotResume, "RESUME sent after the link failed");
            }
        }
    }

    @Test
    void heldForAnotherSnapshotFailsTheLink() throws Exception {
        try (CacheLink link = connect()) {
            CompletableFuture<Void> commit = committedMigration(link);
            peer.get(5, TimeUnit.SECONDS).writeAndFlush(new SnapshotHeld(SnapshotName.of("other"), 1));
            ExecutionException e = assertThrows(ExecutionException.class, () -> commit.get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("unexpected SNAPSHOT_HELD for other"), e.getCause().getMessage());
            assertNull(received.poll(300, TimeUnit.MILLISECONDS), "answered a SNAPSHOT_HELD for another snapshot");
        }
    }
}
