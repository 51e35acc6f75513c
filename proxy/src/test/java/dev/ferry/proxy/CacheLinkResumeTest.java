package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.SnapshotReattach;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.WireCodecs;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy's reconnect and resend against a scripted image-cache over loopback TCP: the cache confirms what it holds
 * (RECEIVED), drops the first connection mid-image, and answers the reattach with its offset; the image must arrive
 * byte for byte, with no gap and no duplicate. Past the budget, or on a refused reattach, the link fails clearly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CacheLinkResumeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final SnapshotName NAME = SnapshotName.of("web1");
    private static final ImageName PAGES = ImageName.of("pages-1.img");
    private static final long TOKEN = 0x5eed_1234_abcdL;
    private static final int CUT_AT = 3 << 20;

    /** How the scripted cache answers a reattach. */
    private enum Reattach { ACCEPT, REFUSE_CONNECTIONS, WRONG_TOKEN }

    private MultiThreadIoEventLoopGroup group;
    private Channel server;
    private volatile Reattach mode = Reattach.ACCEPT;
    /** The image bytes the scripted cache holds, across connections. */
    private final ByteArrayOutputStream held = new ByteArrayOutputStream();
    private final AtomicInteger connections = new AtomicInteger();
    private final CompletableFuture<ImageEnd> ended = new CompletableFuture<>();

    @BeforeEach
    void start() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        int n = connections.incrementAndGet();
                        if (n > 1 && mode == Reattach.REFUSE_CONNECTIONS) {
                            ch.close();
                            return;
                        }
                        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
                        ch.pipeline().addLast(new ScriptedCache(n == 1));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    @AfterEach
    void stop() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The first connection begins and is cut after {@link #CUT_AT} bytes; later ones reattach. */
    private final class ScriptedCache extends SimpleChannelInboundHandler<WireMessage> {
        private final boolean first;
        private boolean cut;
        private long unconfirmed;

        ScriptedCache(boolean first) {
            this.first = first;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WireMessage msg) {
            if (cut) {
                return;
            }
            if (msg instanceof Hello) {
                ctx.writeAndFlush(new HelloAck(Wire.VERSION, "target", Wire.DEFAULT_MAX_FRAME_SIZE));
            } else if (msg instanceof SnapshotBegin b) {
                assertEquals(3000, b.retryForMillis());
                ctx.writeAndFlush(new SnapshotReady(b.snapshot(), TOKEN));
            } else if (msg instanceof SnapshotReattach r) {
                if (mode == Reattach.WRONG_TOKEN || r.token() != TOKEN) {
                    ctx.writeAndFlush(new ErrorMessage(ErrorCode.REATTACH_REFUSED, "wrong resume token", ""));
                    ctx.close();
                    return;
                }
                ctx.writeAndFlush(new SnapshotReattached(r.snapshot(),
                        List.of(new SnapshotReattached.HeldImage(PAGES, 1, held.size(), false))));
            } else if (msg instanceof ImageOpen) {
                assertTrue(first, "IMAGE_OPEN again for an image the cache listed");
            } else if (msg instanceof ImageData d) {
                byte[] b = new byte[d.data().readableBytes()];
                d.data().readBytes(b);
                held.writeBytes(b);
                unconfirmed += b.length;
                if (unconfirmed >= 1 << 20) {
                    unconfirmed = 0;
                    ctx.writeAndFlush(new Received(List.of(new Received.StreamOffset(1, held.size()))));
                }
                if (first && held.size() >= CUT_AT) {
                    cut = true;
                    ctx.close(); // the link drops with bytes in flight
                }
            } else if (msg instanceof ImageEnd e) {
                ended.complete(e);
            } else if (msg instanceof SnapshotCommit c) {
                ctx.writeAndFlush(new SnapshotAck(c.snapshot(), held.size(), 1));
            }
        }
    }

    private CacheLink connect() throws Exception {
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        return CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", port, "source", TIMEOUT);
    }

    /** Writes {@code image} in 256 KiB pieces, ends it and commits; the commit's future. */
    private static CompletableFuture<Void> send(CacheLink link, byte[] image) throws IOException {
        link.begin(new SnapshotBegin(NAME, image.length, 42, "4.2.1", null, 3000), TIMEOUT);
        ImageOutput out = link.open(PAGES);
        for (int off = 0; off < image.length; off += 256 << 10) {
            out.write(ByteBuffer.wrap(image, off, Math.min(256 << 10, image.length - off)));
        }
        CRC32C crc = new CRC32C();
        crc.update(image);
        out.finish(image.length, (int) crc.getValue());
        return link.commit(List.of(new ImageDigest(PAGES, image.length, (int) crc.getValue())));
    }

    private static byte[] image() {
        byte[] image = new byte[12 << 20];
        new Random(7).nextBytes(image);
        return image;
    }

    @Test
    void dropMidImage_reconnects_resendsFromTheCachesOffset_imageArrivesWhole() throws Exception {
        byte[] image = image();
        AtomicInteger attempts = new AtomicInteger();
        try (CacheLink link = connect()) {
            link.onReconnect(new CacheLink.ReconnectListener() {
                @Override
                public void reconnecting(String where, int attempt, Duration left) {
                    attempts.incrementAndGet();
                    assertTrue(where.startsWith("image pages-1.img offset "), where);
                }
            });
            send(link, image).get(20, TimeUnit.SECONDS);
        }
        assertTrue(attempts.get() >= 1, "no reconnect was reported");
        assertEquals(2, connections.get());
        assertEquals(image.length, ended.get().size());
        assertArrayEquals(image, held.toByteArray(), "the image has a gap or a duplicate after the resume");
    }

    @Test
    void linkDownPastTheBudget_failsSayingSo() throws Exception {
        mode = Reattach.REFUSE_CONNECTIONS;
        long start = System.nanoTime();
        try (CacheLink link = connect()) {
            assertThrows(Exception.class, () -> send(link, image()).get(20, TimeUnit.SECONDS));
            String message = link.failure().getMessage();
            assertTrue(message.contains("gave up after"), message);
            assertTrue(message.contains("--retry-for 3000 ms"), message);
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis >= 3000 && millis < 10_000, "gave up after " + millis + " ms (expected: about 3 s)");
        assertTrue(connections.get() >= 3, "expected several attempts with backoff, saw " + connections.get());
    }

    @Test
    void refusedReattach_failsAtOnce() throws Exception {
        mode = Reattach.WRONG_TOKEN;
        long start = System.nanoTime();
        try (CacheLink link = connect()) {
            assertThrows(Exception.class, () -> send(link, image()).get(20, TimeUnit.SECONDS));
            CacheRefusedException refused = assertInstanceOf(CacheRefusedException.class, link.failure());
            assertEquals(ErrorCode.REATTACH_REFUSED, refused.code());
            assertTrue(refused.getMessage().contains("the reattach was refused"), refused.getMessage());
        }
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 3000, "a refusal ends the retries at once");
        assertEquals(2, connections.get());
    }
}
