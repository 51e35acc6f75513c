package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The receive handler's per-snapshot and per-peer limits, and data sent after a commit. */
class ImageReceiveLimitsTest {

    private static final CacheLimits LIMITS = new CacheLimits(Duration.ofSeconds(10), Duration.ofSeconds(120), 64, 3, 2);

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(16L << 20));
    private final PeerSnapshots peers = new PeerSnapshots();
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    @AfterEach
    void tearDown() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
        store.close();
    }

    private EmbeddedChannel helloed() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target", LIMITS, peers));
        channels.add(ch);
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        return ch;
    }

    private static void begin(EmbeddedChannel ch, String name) {
        ch.writeInbound(new SnapshotBegin(SnapshotName.of(name), 0, 1));
        assertEquals(new SnapshotReady(SnapshotName.of(name)), ch.readOutbound());
    }

    private static ErrorMessage expectError(EmbeddedChannel ch, ErrorCode code) {
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, ch.readOutbound());
        assertEquals(code, e.code(), e.message());
        assertFalse(ch.isActive(), "the connection is closed after an error");
        return e;
    }

    @Test
    void refusesImageOpenAboveMaxImagesPerSnapshot_snapshotDropped() {
        EmbeddedChannel ch = helloed();
        begin(ch, "web1");
        for (int i = 1; i <= 3; i++) {
            ch.writeInbound(new ImageOpen(i, ImageName.of("core-" + i + ".img")));
        }
        ch.writeInbound(new ImageOpen(4, ImageName.of("core-4.img")));
        ErrorMessage e = expectError(ch, ErrorCode.RESOURCE_LIMIT);
        assertTrue(e.message().contains("already has 3 images (expected: <= 3)"), e.message());
        assertTrue(e.message().contains("--max-images"), e.message());
        assertTrue(store.get(SnapshotName.of("web1")).isEmpty());
    }

    @Test
    void refusesSnapshotBeginAboveMaxSnapshotsPerPeer_otherSnapshotsUnharmed() {
        EmbeddedChannel a = helloed();
        EmbeddedChannel b = helloed();
        EmbeddedChannel c = helloed();
        begin(a, "a");
        begin(b, "b");
        c.writeInbound(new SnapshotBegin(SnapshotName.of("c"), 0, 1));
        ErrorMessage e = expectError(c, ErrorCode.RESOURCE_LIMIT);
        assertTrue(e.message().contains("2 snapshots already being received"), e.message());
        assertTrue(e.message().contains("--max-snapshots-per-peer"), e.message());
        assertTrue(store.get(SnapshotName.of("c")).isEmpty());
        assertTrue(a.isActive() && b.isActive());

        a.close(); // a dropped snapshot frees its slot
        EmbeddedChannel d = helloed();
        begin(d, "d");
    }

    @Test
    void committedSnapshotFreesItsPerPeerSlot() {
        EmbeddedChannel a = helloed();
        for (String name : List.of("s1", "s2", "s3")) {
            begin(a, name);
            a.writeInbound(new SnapshotCommit(SnapshotName.of(name), List.of()));
            assertInstanceOf(SnapshotAck.class, a.readOutbound());
        }
        assertEquals(0, peers.receiving("embedded"));
    }

    @Test
    void refusesImageDataAfterCommit_namingTheCommittedSnapshot() {
        EmbeddedChannel ch = helloed();
        begin(ch, "web1");
        byte[] data = {1, 2, 3};
        CRC32C crc = new CRC32C();
        crc.update(data);
        ch.writeInbound(new ImageOpen(1, ImageName.of("core-1.img")));
        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(data)));
        ch.writeInbound(new ImageEnd(1, 3, (int) crc.getValue()));
        ch.writeInbound(new SnapshotCommit(SnapshotName.of("web1"),
                List.of(new ImageDigest(ImageName.of("core-1.img"), 3, (int) crc.getValue()))));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());

        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(data)));
        ErrorMessage e = expectError(ch, ErrorCode.UNKNOWN_STREAM);
        assertTrue(e.message().contains("web1 is already committed"), e.message());
        assertEquals(3, store.committed(SnapshotName.of("web1")).orElseThrow().bytes(),
                "the committed snapshot is untouched");
    }

    @Test
    void refusesImageOpenAfterCommit() {
        EmbeddedChannel ch = helloed();
        begin(ch, "web1");
        ch.writeInbound(new SnapshotCommit(SnapshotName.of("web1"), List.of()));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());
        ch.writeInbound(new ImageOpen(1, ImageName.of("late.img")));
        ErrorMessage e = expectError(ch, ErrorCode.UNEXPECTED_FRAME);
        assertTrue(e.message().contains("already committed"), e.message());
        assertTrue(store.committed(SnapshotName.of("web1")).isPresent(), "a late frame never drops a committed snapshot");
    }
}
