package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.CacheLimits;
import dev.ferry.cache.ImageCache;
import dev.ferry.cache.StoredSnapshot;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.FrameDecoder;
import dev.ferry.protocol.codec.FrameEncoder;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.codec.WireMessageDecoder;
import dev.ferry.protocol.codec.WireMessageEncoder;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.proxy.CacheLink;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An in-process image-cache on 127.0.0.1 under hostile input from raw sockets, while a legitimate snapshot
 * streams in through a real {@link CacheLink}: every hostile peer gets a clear ERROR frame or a closed
 * connection, the legitimate snapshot arrives byte-identical, and the cache accepts new snapshots after.
 */
class HostileInputTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(1);
    private static final int READ_TIMEOUT_MILLIS = 5000;

    @TempDir
    Path runDir;

    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;

    @BeforeEach
    void start() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run here: no restore in this test
        CacheLimits limits = new CacheLimits(HANDSHAKE_TIMEOUT, Duration.ofSeconds(30), 256,
                CacheLimits.DEFAULT_MAX_IMAGES_PER_SNAPSHOT, CacheLimits.DEFAULT_MAX_SNAPSHOTS_PER_PEER);
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), null, limits));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        cache.close();
    }

    @Test
    @Timeout(120)
    void hostilePeersGetErrorsWhileALegitimateSnapshotArrivesIntact() throws Exception {
        CompletableFuture<Void> legit = CompletableFuture.runAsync(() -> transfer("legit", 6, 6 << 20, true));

        truncatedFrameThenCloseIsDropped();
        lengthFieldIsRefused(0x8000_0000L);
        lengthFieldIsRefused(0xFFFF_FFFFL);
        unknownFrameTypeIsRefused();
        wrongProtocolVersionIsRefused();
        dataForUnopenedImageIsRefused();
        duplicateImageNameIsRefused();
        manifestThatDisagreesIsRefused();
        dataAfterCommitIsRefused();
        garbageBytesAreRefused();
        thousandConnectionsOpenedAndDropped();
        slowLorisIsClosedAfterHandshakeTimeout();

        legit.get(60, TimeUnit.SECONDS);
        transfer("after-the-storm", 3, 1 << 20, false); // the cache still serves new snapshots
        assertTrue(cache.store().committed(SnapshotName.of("data-after-commit")).isPresent(),
                "data sent after a commit never harms the committed snapshot");
        for (String dropped : List.of("unopened", "duplicate")) {
            assertTrue(cache.store().get(SnapshotName.of(dropped)).isEmpty(), dropped + " is not kept");
        }
        // a snapshot whose manifest disagrees is kept as BAD (no memory), never served
        assertEquals(dev.ferry.cache.StoredSnapshot.State.BAD,
                cache.store().get(SnapshotName.of("mismatch")).orElseThrow().state());
        assertTrue(cache.store().committed(SnapshotName.of("mismatch")).isEmpty(), "mismatch is never served");
    }

    @Test
    @Timeout(60)
    void connectionsAboveMaxConnectionsAreRefusedAtOnce_heldOnesKeepWorking() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1");
        CacheLimits limits = new CacheLimits(Duration.ofSeconds(10), Duration.ofSeconds(30), 4,
                CacheLimits.DEFAULT_MAX_IMAGES_PER_SNAPSHOT, CacheLimits.DEFAULT_MAX_SNAPSHOTS_PER_PEER);
        List<Socket> held = new ArrayList<>();
        try (ImageCache small = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0),
                runDir.resolve("small"), criu, 64L << 20, "small", Duration.ofSeconds(5), null, limits))) {
            for (int i = 0; i < 4; i++) {
                Socket s = connect(small.address());
                held.add(s);
                s.getOutputStream().write(hello());
                assertInstanceOf(HelloAck.class, readFrame(s));
            }
            ErrorMessage e = expectError(exchange(small.address(), hello(), false), ErrorCode.RESOURCE_LIMIT);
            assertTrue(e.message().contains("--max-connections"), e.message());

            held.remove(0).close(); // a freed slot is usable again, once the cache has seen the close
            boolean accepted = false;
            for (int attempt = 0; attempt < 50 && !accepted; attempt++) {
                try (Socket s = connect(small.address())) {
                    s.getOutputStream().write(hello());
                    accepted = readFrame(s) instanceof HelloAck;
                }
                if (!accepted) {
                    Thread.sleep(100);
                }
            }
            assertTrue(accepted, "a connection is accepted again after one of the four closed");
            for (Socket s : held) {
                assertTrue(s.isConnected() && !s.isClosed());
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    // --- the hostile peers ---------------------------------------------------------------------------

    private void truncatedFrameThenCloseIsDropped() throws IOException {
        byte[] begin = encode(new SnapshotBegin(SnapshotName.of("truncated"), 0, 1));
        List<WireMessage> reply = exchange(concat(hello(), Arrays.copyOf(begin, begin.length - 3)), true);
        assertEquals(1, reply.size(), String.valueOf(reply));
        assertInstanceOf(HelloAck.class, reply.get(0));
        assertTrue(cache.store().get(SnapshotName.of("truncated")).isEmpty());
    }

    private void lengthFieldIsRefused(long length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(10).putInt((int) length).put((byte) 0x05).put((byte) 0).putInt(1);
        ErrorMessage e = expectError(exchange(b.array(), false), ErrorCode.FRAME_TOO_LARGE);
        assertTrue(e.message().contains(Long.toString(length)), e.message());
    }

    private void unknownFrameTypeIsRefused() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(10).putInt(6).put((byte) 0x7F).put((byte) 0).putInt(0);
        ErrorMessage e = expectError(exchange(concat(hello(), b.array()), false), ErrorCode.UNKNOWN_FRAME_TYPE);
        assertTrue(e.message().contains("0x7F"), e.message());
    }

    private void wrongProtocolVersionIsRefused() throws IOException {
        // HELLO of version 2, written by hand: the encoder only speaks version 1.
        byte[] payload = {0x08, 0x02, 0x12, 0x01, 'x', 0x18, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x02};
        ByteBuffer b = ByteBuffer.allocate(10 + payload.length).putInt(6 + payload.length).put((byte) 0x01)
                .put((byte) 0).putInt(0).put(payload);
        ErrorMessage e = expectError(exchange(b.array(), false), ErrorCode.UNSUPPORTED_VERSION);
        assertTrue(e.message().contains("protocol version: 2 (expected: 1)"), e.message());
    }

    private void dataForUnopenedImageIsRefused() throws IOException {
        byte[] bytes = concat(hello(), encode(new SnapshotBegin(SnapshotName.of("unopened"), 0, 1)),
                encode(new ImageData(5, Unpooled.wrappedBuffer(new byte[100]))));
        expectError(exchange(bytes, false), ErrorCode.UNKNOWN_STREAM);
    }

    private void duplicateImageNameIsRefused() throws IOException {
        byte[] bytes = concat(hello(), encode(new SnapshotBegin(SnapshotName.of("duplicate"), 0, 1)),
                encode(new ImageOpen(1, ImageName.of("core-1.img"))), encode(new ImageOpen(2, ImageName.of("core-1.img"))));
        expectError(exchange(bytes, false), ErrorCode.DUPLICATE_IMAGE);
    }

    private void manifestThatDisagreesIsRefused() throws IOException {
        byte[] data = {1, 2, 3, 4};
        byte[] bytes = concat(hello(), encode(new SnapshotBegin(SnapshotName.of("mismatch"), 0, 1)),
                encode(new ImageOpen(1, ImageName.of("core-1.img"))),
                encode(new ImageData(1, Unpooled.wrappedBuffer(data))),
                encode(new ImageEnd(1, data.length, crc(data))),
                encode(new SnapshotCommit(SnapshotName.of("mismatch"), List.of(
                        new ImageDigest(ImageName.of("core-1.img"), data.length, crc(data)),
                        new ImageDigest(ImageName.of("pages-1.img"), 4096, 0)))));
        expectError(exchange(bytes, false), ErrorCode.MANIFEST_MISMATCH);
    }

    private void dataAfterCommitIsRefused() throws IOException {
        byte[] data = {9, 8, 7};
        SnapshotName name = SnapshotName.of("data-after-commit");
        byte[] bytes = concat(hello(), encode(new SnapshotBegin(name, 0, 1)),
                encode(new ImageOpen(1, ImageName.of("core-1.img"))),
                encode(new ImageData(1, Unpooled.wrappedBuffer(data))),
                encode(new ImageEnd(1, data.length, crc(data))),
                encode(new SnapshotCommit(name, List.of(new ImageDigest(ImageName.of("core-1.img"), data.length, crc(data))))),
                encode(new ImageData(1, Unpooled.wrappedBuffer(data))));
        List<WireMessage> reply = exchange(bytes, false);
        assertTrue(reply.stream().anyMatch(m -> m instanceof SnapshotAck), String.valueOf(reply));
        ErrorMessage e = expectError(reply, ErrorCode.UNKNOWN_STREAM);
        assertTrue(e.message().contains("already committed"), e.message());
    }

    private void garbageBytesAreRefused() throws IOException {
        byte[] garbage = new byte[4096];
        new Random(42).nextBytes(garbage);
        garbage[0] = 0x7F; // a length far above the maximum frame size, whatever the rest says
        ErrorMessage e = expectError(exchange(garbage, false), ErrorCode.FRAME_TOO_LARGE);
        assertTrue(e.message().contains("expected: <="), e.message());
    }

    private void thousandConnectionsOpenedAndDropped() throws IOException {
        InetSocketAddress address = cache.address();
        for (int i = 0; i < 1000; i++) {
            try (Socket s = new Socket()) {
                s.connect(address, READ_TIMEOUT_MILLIS);
                if (i % 2 == 0) {
                    s.setSoLinger(true, 0); // every other one ends with a reset instead of a FIN
                }
            }
        }
    }

    private void slowLorisIsClosedAfterHandshakeTimeout() throws IOException {
        try (Socket s = connect()) {
            long start = System.nanoTime();
            s.getOutputStream().write(new byte[] {0, 0, 0}); // a hello that never ends
            s.getOutputStream().flush();
            List<WireMessage> reply = decode(readUntilClosed(s));
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            ErrorMessage e = expectError(reply, ErrorCode.PROTOCOL_ERROR);
            assertTrue(e.message().contains("--handshake-timeout"), e.message());
            assertTrue(millis >= HANDSHAKE_TIMEOUT.toMillis() - 100 && millis < 4000, "closed after " + millis + " ms");
        }
    }

    // --- the legitimate peer -------------------------------------------------------------------------

    /** Sends a snapshot of {@code images} images through a CacheLink and checks it arrived byte-identical. */
    private void transfer(String snapshot, int images, int firstImageBytes, boolean paced) {
        SnapshotName name = SnapshotName.of(snapshot);
        List<byte[]> contents = new ArrayList<>();
        List<ImageDigest> manifest = new ArrayList<>();
        try (CacheLink link = CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(),
                "source", TIMEOUT)) {
            link.begin(name, 16L << 20, 1, TIMEOUT);
            List<CompletableFuture<Void>> writers = new ArrayList<>();
            for (int i = 0; i < images; i++) {
                byte[] data = new byte[i == 0 ? firstImageBytes : 300_000 * i + 7];
                new Random(snapshot.hashCode() + i).nextBytes(data);
                contents.add(data);
                ImageName image = ImageName.of(i == 0 ? "pages-1.img" : "core-" + i + ".img");
                manifest.add(new ImageDigest(image, data.length, crc(data)));
                ImageOutput out = link.open(image);
                writers.add(CompletableFuture.runAsync(() -> {
                    try {
                        for (int off = 0; off < data.length; off += 65536) {
                            out.write(ByteBuffer.wrap(data, off, Math.min(65536, data.length - off)));
                            if (paced) {
                                Thread.sleep(20); // keep the transfer running while the hostile peers strike
                            }
                        }
                        out.finish(data.length, crc(data));
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            CompletableFuture.allOf(writers.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
            link.commit(manifest).get(10, TimeUnit.SECONDS);
            StoredSnapshot stored = cache.store().committed(name).orElseThrow();
            assertEquals(images, stored.imageCount());
            for (int i = 0; i < images; i++) {
                ByteArrayOutputStream copy = new ByteArrayOutputStream();
                stored.find(manifest.get(i).name()).orElseThrow().writeTo(Channels.newChannel(copy));
                assertArrayEquals(contents.get(i), copy.toByteArray(), manifest.get(i).name().value());
            }
        } catch (Exception e) {
            throw new AssertionError("legitimate snapshot " + snapshot + " failed: " + e, e);
        }
    }

    // --- raw socket helpers --------------------------------------------------------------------------

    private Socket connect() throws IOException {
        return connect(cache.address());
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, READ_TIMEOUT_MILLIS);
        s.setSoTimeout(READ_TIMEOUT_MILLIS);
        return s;
    }

    /** Writes {@code bytes} in one go, then reads and decodes whatever the cache answers until it closes. */
    private List<WireMessage> exchange(byte[] bytes, boolean closeOutputAfter) throws IOException {
        return exchange(cache.address(), bytes, closeOutputAfter);
    }

    private static List<WireMessage> exchange(InetSocketAddress address, byte[] bytes, boolean closeOutputAfter)
            throws IOException {
        try (Socket s = connect(address)) {
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            if (closeOutputAfter) {
                s.shutdownOutput();
            }
            return decode(readUntilClosed(s));
        }
    }

    /** Every byte until the cache closes the connection; fails if it stays open longer than the read timeout. */
    private static byte[] readUntilClosed(Socket s) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                got.write(buf, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the cache kept the connection open; read so far: " + got.size() + " bytes", e);
        } catch (SocketException e) {
            // a reset after the cache closed: what arrived before it is the answer
        }
        return got.toByteArray();
    }

    /** The frames of a reply, decoded with the protocol's own decoders. */
    private static List<WireMessage> decode(byte[] bytes) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(), new WireMessageDecoder());
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes));
            List<WireMessage> out = new ArrayList<>();
            for (Object m; (m = ch.readInbound()) != null; ) {
                out.add((WireMessage) m);
                ReferenceCountUtil.release(m);
            }
            return out;
        } finally {
            assertFalse(ch.finishAndReleaseAll(), "the reply ends on a frame boundary");
        }
    }

    private static ErrorMessage expectError(List<WireMessage> reply, ErrorCode code) {
        assertFalse(reply.isEmpty(), "expected an ERROR frame before the close, got nothing");
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, reply.get(reply.size() - 1), String.valueOf(reply));
        assertEquals(code, e.code(), e.message());
        assertTrue(e.message().contains("expected"), "the message says what was expected: " + e.message());
        return e;
    }

    /** Reads exactly one frame and decodes it. */
    private static WireMessage readFrame(Socket s) throws IOException {
        byte[] length = s.getInputStream().readNBytes(4);
        assertEquals(4, length.length, "a frame before the close");
        byte[] rest = s.getInputStream().readNBytes(ByteBuffer.wrap(length).getInt());
        List<WireMessage> frames = decode(concat(length, rest));
        assertEquals(1, frames.size(), String.valueOf(frames));
        return frames.get(0);
    }

    private static byte[] hello() {
        return encode(new Hello(Wire.VERSION, "hostile", Wire.DEFAULT_MAX_FRAME_SIZE));
    }

    /** The bytes of one message, through the protocol's own encoders; releases what it encodes. */
    private static byte[] encode(WireMessage msg) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder(), new WireMessageEncoder());
        try {
            ch.writeOutbound(msg);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                out.writeBytes(bytes);
                b.release();
            }
            return out.toByteArray();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }
}
