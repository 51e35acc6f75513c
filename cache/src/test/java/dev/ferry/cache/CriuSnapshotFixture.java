package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The images of a real CRIU 4.2.1 dump (test resources {@code criu-4.2.1-sh-sleep/*.img.fixture}, renamed so no *.img is ever tracked: sh with two sleeping children,
 * pids 1, 2 and 8 of their PID namespace), plus zero-filled pages images of the dumped sizes, and a scripted
 * image-proxy that sends them through the cache's real receive path.
 */
final class CriuSnapshotFixture {

    static final String DIR = "criu-4.2.1-sh-sleep/";
    static final List<String> PROTOBUF_IMAGES = List.of("inventory.img", "pstree.img", "core-1.img", "core-2.img",
            "core-8.img", "pagemap-1.img", "pagemap-2.img", "pagemap-8.img");
    static final Map<String, Integer> PAGES = Map.of("pages-1.img", 122880, "pages-2.img", 126976, "pages-3.img", 126976);

    private CriuSnapshotFixture() {
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = CriuSnapshotFixture.class.getResourceAsStream(DIR + name + ".fixture")) {
            if (in == null) {
                throw new IOException("missing test resource " + DIR + name);
            }
            return in.readAllBytes();
        }
    }

    /** Every image of the dump, name → bytes. */
    static Map<String, byte[]> images() throws IOException {
        Map<String, byte[]> images = new LinkedHashMap<>();
        for (String name : PROTOBUF_IMAGES) {
            images.put(name, resource(name));
        }
        PAGES.forEach((name, size) -> images.put(name, new byte[size]));
        return images;
    }

    static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    /** Says hello on {@code ch} (a fresh receive handler's channel). */
    static void hello(EmbeddedChannel ch) {
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
    }

    /** Sends {@code images} as snapshot {@code name} and its commit; asserts the ack. */
    static void send(EmbeddedChannel ch, SnapshotName name, Map<String, byte[]> images) {
        begin(ch, name, images);
        List<ImageDigest> manifest = new ArrayList<>();
        images.forEach((image, bytes) -> manifest.add(new ImageDigest(ImageName.of(image), bytes.length, crc(bytes))));
        ch.writeInbound(new SnapshotCommit(name, manifest));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());
    }

    /** Sends SNAPSHOT_BEGIN and every image, but no commit: the snapshot stays RECEIVING. */
    static void begin(EmbeddedChannel ch, SnapshotName name, Map<String, byte[]> images) {
        ch.writeInbound(new SnapshotBegin(name, 0, 42));
        assertEquals(new SnapshotReady(name), ch.readOutbound());
        int stream = 0;
        for (Map.Entry<String, byte[]> e : images.entrySet()) {
            stream++;
            byte[] bytes = e.getValue();
            ch.writeInbound(new ImageOpen(stream, ImageName.of(e.getKey())));
            for (int off = 0; off < bytes.length; off += Wire.MAX_DATA_PAYLOAD) {
                int n = Math.min(Wire.MAX_DATA_PAYLOAD, bytes.length - off);
                ch.writeInbound(new ImageData(stream, Unpooled.wrappedBuffer(bytes, off, n)));
            }
            ch.writeInbound(new ImageEnd(stream, bytes.length, crc(bytes)));
        }
    }
}
