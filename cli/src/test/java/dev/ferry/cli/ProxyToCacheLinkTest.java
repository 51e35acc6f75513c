package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.cache.StoredSnapshot;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.proxy.CacheLink;
import dev.ferry.proxy.CacheRefusedException;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image-proxy's link and the image-cache over real loopback TCP, in one JVM: many images written
 * concurrently through the {@code ImageSink} port arrive intact; refusals reach the sender.
 */
class ProxyToCacheLinkTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path runDir;

    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;

    @BeforeEach
    void start() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run here: no restore in this test
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), null, null));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        cache.close();
    }

    private CacheLink link() throws Exception {
        return CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(), "source", TIMEOUT);
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    @Test
    void concurrentImagesArriveIntactAndCommit() throws Exception {
        SnapshotName name = SnapshotName.of("web1");
        List<byte[]> contents = new ArrayList<>();
        List<ImageDigest> manifest = new ArrayList<>();
        try (CacheLink link = link()) {
            link.begin(name, 20L << 20, 1, TIMEOUT);
            List<CompletableFuture<Void>> writers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                byte[] data = new byte[i == 0 ? 24 << 20 : 1000 * i + 3];
                new Random(i).nextBytes(data);
                contents.add(data);
                ImageName image = ImageName.of(i == 0 ? "pages-1.img" : "core-" + i + ".img");
                manifest.add(new ImageDigest(image, data.length, crc(data)));
                ImageOutput out = link.open(image);
                writers.add(CompletableFuture.runAsync(() -> {
                    try {
                        for (int off = 0; off < data.length; off += 65536) {
                            out.write(ByteBuffer.wrap(data, off, Math.min(65536, data.length - off)));
                        }
                        out.finish(data.length, crc(data));
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            CompletableFuture.allOf(writers.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
            link.commit(manifest).get(10, TimeUnit.SECONDS);
        }
        StoredSnapshot stored = cache.store().committed(name).orElseThrow();
        assertEquals(6, stored.imageCount());
        for (int i = 0; i < manifest.size(); i++) {
            ByteArrayOutputStream copy = new ByteArrayOutputStream();
            stored.find(manifest.get(i).name()).orElseThrow().writeTo(Channels.newChannel(copy));
            assertArrayEquals(contents.get(i), copy.toByteArray(), manifest.get(i).name().value());
        }
    }

    @Test
    void commitWithWrongChecksumIsRefusedAndNeverServed() throws Exception {
        SnapshotName name = SnapshotName.of("tampered");
        byte[] data = new byte[10_000];
        new Random(7).nextBytes(data);
        try (CacheLink link = link()) {
            link.begin(name, 0, 1, TIMEOUT);
            ImageOutput out = link.open(ImageName.of("pages-1.img"));
            out.write(ByteBuffer.wrap(data));
            out.finish(data.length, crc(data));
            ExecutionException e = assertThrows(ExecutionException.class, () -> link.commit(
                    List.of(new ImageDigest(ImageName.of("pages-1.img"), data.length, crc(data) ^ 1))).get(10, TimeUnit.SECONDS));
            CacheRefusedException refused = assertInstanceOf(CacheRefusedException.class, e.getCause());
            assertEquals(ErrorCode.INTEGRITY, refused.code());
        }
        assertEquals(StoredSnapshot.State.BAD, cache.store().get(name).orElseThrow().state(),
                "a snapshot that failed verification is marked BAD");
        assertTrue(cache.store().committed(name).isEmpty(), "a snapshot that failed verification is never served");
    }

    @Test
    void secondSnapshotWithTheSameNameIsRefusedBeforeAnyImage() throws Exception {
        SnapshotName name = SnapshotName.of("dup");
        try (CacheLink first = link()) {
            first.begin(name, 0, 1, TIMEOUT);
            try (CacheLink second = link()) {
                CacheRefusedException e = assertThrows(CacheRefusedException.class, () -> second.begin(name, 0, 2, TIMEOUT));
                assertEquals(ErrorCode.SNAPSHOT_EXISTS, e.code());
            }
        }
    }

    @Test
    void snapshotTooLargeForTheCacheIsRefusedUpFront() throws Exception {
        try (CacheLink link = link()) {
            CacheRefusedException e = assertThrows(CacheRefusedException.class,
                    () -> link.begin(SnapshotName.of("huge"), 1L << 40, 1, TIMEOUT));
            assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        }
    }

    @Test
    void unreachableCacheFailsFastWithTheAddress() {
        int port = cache.address().getPort();
        cache.close();
        Exception e = assertThrows(Exception.class, () -> CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1",
                port, "source", Duration.ofSeconds(2)));
        assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
    }
}
