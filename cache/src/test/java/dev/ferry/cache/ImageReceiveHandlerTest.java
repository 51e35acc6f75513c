package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
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
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.image.StoredImage;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cache's receive state machine against a scripted image-proxy, message by message. */
class ImageReceiveHandlerTest {

    private static final SnapshotName WEB1 = SnapshotName.of("web1");

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private final EmbeddedChannel ch = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target"));

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        store.close();
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private void handshakeAndBegin() {
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        ch.writeInbound(new SnapshotBegin(WEB1, 1000, 42));
        assertEquals(new SnapshotReady(WEB1), ch.readOutbound());
    }

    private ErrorMessage expectError(ErrorCode code) {
        WireMessage out = ch.readOutbound();
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, out);
        assertEquals(code, e.code(), e.message());
        assertFalse(ch.isActive(), "the connection is closed after an error");
        return e;
    }

    @Test
    void storesInterleavedImagesAndAcknowledgesVerifiedCommit() throws Exception {
        handshakeAndBegin();
        byte[] pages = random(3 * 1024 * 1024 + 17, 1);
        byte[] inventory = random(86, 2);
        ch.writeInbound(new ImageOpen(1, ImageName.of("inventory.img")));
        ch.writeInbound(new ImageOpen(2, ImageName.of("pages-1.img")));
        for (int off = 0; off < pages.length; off += Wire.MAX_DATA_PAYLOAD) {
            int n = Math.min(Wire.MAX_DATA_PAYLOAD, pages.length - off);
            ch.writeInbound(new ImageData(2, Unpooled.wrappedBuffer(pages, off, n)));
            if (off == 0) {
                ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(inventory)));
                ch.writeInbound(new ImageEnd(1, inventory.length, crc(inventory)));
            }
        }
        ch.writeInbound(new ImageEnd(2, pages.length, crc(pages)));
        assertTrue(store.committed(WEB1).isEmpty(), "not served before the commit");
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(
                new ImageDigest(ImageName.of("pages-1.img"), pages.length, crc(pages)),
                new ImageDigest(ImageName.of("inventory.img"), inventory.length, crc(inventory)))));
        assertEquals(new SnapshotAck(WEB1, pages.length + inventory.length, 2), ch.readOutbound());
        StoredSnapshot s = store.committed(WEB1).orElseThrow();
        StoredImage image = s.find(ImageName.of("pages-1.img")).orElseThrow();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        image.writeTo(Channels.newChannel(out));
        assertArrayEquals(pages, out.toByteArray());
        assertTrue(s.find(ImageName.of("cgroup.img")).isEmpty());
        assertTrue(ch.isActive());
    }

    @Test
    void zeroLengthImageIsDistinctFromAbsent() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("empty.img")));
        ch.writeInbound(new ImageEnd(1, 0, 0));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(new ImageDigest(ImageName.of("empty.img"), 0, 0))));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());
        assertEquals(0, store.committed(WEB1).orElseThrow().find(ImageName.of("empty.img")).orElseThrow().size());
    }

    @Test
    void refusesResumeForATreeThatIsNotHeld() {
        handshakeAndBegin();
        ch.writeInbound(new dev.ferry.protocol.codec.SnapshotResume(WEB1));
        ErrorMessage e = expectError(ErrorCode.UNEXPECTED_FRAME);
        assertTrue(e.message().contains("SNAPSHOT_RESUME for web1, which is not held"), e.message());
        assertTrue(store.committed(WEB1).isEmpty(), "the open snapshot survived a protocol error");
    }

    @Test
    void refusesAnythingBeforeHello() {
        ch.writeInbound(new SnapshotBegin(WEB1, 0, 1));
        expectError(ErrorCode.UNEXPECTED_FRAME);
        assertTrue(store.list().isEmpty());
    }

    @Test
    void refusesCorruptedDataAtImageEnd_snapshotMarkedBadAndNeverServed() {
        handshakeAndBegin();
        byte[] data = random(5000, 3);
        ch.writeInbound(new ImageOpen(1, ImageName.of("pages-1.img")));
        byte[] flipped = data.clone();
        flipped[100] ^= 0x01;
        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(flipped)));
        ch.writeInbound(new ImageEnd(1, data.length, crc(data)));
        ErrorMessage e = expectError(ErrorCode.INTEGRITY);
        assertEquals("web1", e.snapshot());
        assertBad("pages-1.img");
    }

    /** The snapshot is listed BAD with the reason, holds no memory, is never served, and its name may be reused. */
    private void assertBad(String reasonMentions) {
        StoredSnapshot s = store.get(WEB1).orElseThrow();
        assertEquals(StoredSnapshot.State.BAD, s.state());
        assertTrue(s.badReason().contains(reasonMentions), s.badReason());
        assertTrue(store.committed(WEB1).isEmpty(), "a snapshot that failed verification is never served");
        assertTrue(s.find(ImageName.of("pages-1.img")).isEmpty());
        assertEquals(0, store.budget().used(), "its memory is freed at once");
        store.begin(WEB1, "source", 0); // a new dump may use the name again
        assertEquals(StoredSnapshot.State.RECEIVING, store.get(WEB1).orElseThrow().state());
    }

    @Test
    void refusesManifestThatDisagrees() {
        handshakeAndBegin();
        byte[] data = random(100, 4);
        ch.writeInbound(new ImageOpen(1, ImageName.of("core-1.img")));
        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(data)));
        ch.writeInbound(new ImageEnd(1, data.length, crc(data)));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(
                new ImageDigest(ImageName.of("core-1.img"), data.length, crc(data)),
                new ImageDigest(ImageName.of("pages-1.img"), 4096, 7))));
        ErrorMessage e = expectError(ErrorCode.MANIFEST_MISMATCH);
        assertTrue(e.message().contains("pages-1.img"), e.message());
        assertBad("pages-1.img");
    }

    @Test
    void refusesManifestMissingAnImage() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("a.img")));
        ch.writeInbound(new ImageEnd(1, 0, 0));
        ch.writeInbound(new ImageOpen(2, ImageName.of("b.img")));
        ch.writeInbound(new ImageEnd(2, 0, 0));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(new ImageDigest(ImageName.of("a.img"), 0, 0))));
        expectError(ErrorCode.MANIFEST_MISMATCH);
    }

    @Test
    void refusesCommitWhileAnImageIsOpen() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("a.img")));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of()));
        expectError(ErrorCode.MANIFEST_MISMATCH);
    }

    @Test
    void refusesDataForUnopenedStream() {
        handshakeAndBegin();
        ch.writeInbound(new ImageData(9, Unpooled.wrappedBuffer(new byte[10])));
        expectError(ErrorCode.UNKNOWN_STREAM);
    }

    @Test
    void refusesDuplicateImageName() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("a.img")));
        ch.writeInbound(new ImageOpen(2, ImageName.of("a.img")));
        expectError(ErrorCode.DUPLICATE_IMAGE);
    }

    @Test
    void refusesSecondSnapshotWithSameName() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("a.img")));
        ch.writeInbound(new ImageEnd(1, 0, 0));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(new ImageDigest(ImageName.of("a.img"), 0, 0))));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());
        ch.writeInbound(new SnapshotBegin(WEB1, 0, 1));
        expectError(ErrorCode.SNAPSHOT_EXISTS);
        assertTrue(store.committed(WEB1).isPresent(), "the committed snapshot is untouched");
    }

    @Test
    void refusesSnapshotLargerThanMemoryBefore_anyImage() {
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        ch.readOutbound();
        ch.writeInbound(new SnapshotBegin(WEB1, 1L << 40, 1));
        ErrorMessage e = expectError(ErrorCode.RESOURCE_LIMIT);
        assertTrue(e.message().contains("--max-memory"), e.message());
    }

    @Test
    void refusesDataPastTheMemoryLimitWithoutDying() {
        SnapshotStore small = new SnapshotStore(new MemoryBudget(1 << 20));
        EmbeddedChannel c = new EmbeddedChannel(new ImageReceiveHandler(small, CacheEvents.NONE, "target"));
        c.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        c.writeInbound(new SnapshotBegin(WEB1, 0, 1));
        c.writeInbound(new ImageOpen(1, ImageName.of("pages-1.img")));
        for (int i = 0; i < 4 && c.isActive(); i++) {
            c.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(new byte[Wire.MAX_DATA_PAYLOAD])));
        }
        c.readOutbound();
        c.readOutbound();
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, c.readOutbound());
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertEquals(0, small.budget().used(), "all memory of the dropped snapshot is given back");
        c.finishAndReleaseAll();
    }

    @Test
    void connectionClosedBeforeCommitDropsSnapshot() {
        handshakeAndBegin();
        ch.writeInbound(new ImageOpen(1, ImageName.of("pages-1.img")));
        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(new byte[100_000])));
        assertEquals(1, store.list().size());
        ch.close();
        assertTrue(store.list().isEmpty());
        assertEquals(0, store.budget().used());
    }

    @Test
    void abortDropsSnapshotAndKeepsConnection() {
        handshakeAndBegin();
        ch.writeInbound(new SnapshotAbort(WEB1, "criu failed"));
        assertTrue(store.list().isEmpty());
        assertTrue(ch.isActive());
        ch.writeInbound(new SnapshotBegin(WEB1, 0, 2));
        assertEquals(new SnapshotReady(WEB1), ch.readOutbound());
    }

    @Test
    void secondSnapshotThatDoesNotFitBesideTheFirstIsRefusedAtBegin_firstUntouched() {
        handshakeAndBegin(); // web1 announced 1000 bytes: 1000 + the margin are reserved now
        long reservedByFirst = store.budget().used();
        assertEquals(SnapshotMemory.reservationFor(1000), reservedByFirst);
        EmbeddedChannel other = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target"));
        other.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, other.readOutbound());
        long fitsAlone = 50L << 20; // 50 MiB + the margin fit the 64 MiB of an empty cache, not beside web1
        assertTrue(SnapshotMemory.reservationFor(fitsAlone) <= store.budget().limit());
        assertTrue(SnapshotMemory.reservationFor(fitsAlone) + reservedByFirst > store.budget().limit());
        other.writeInbound(new SnapshotBegin(SnapshotName.of("web2"), fitsAlone, 43));
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, other.readOutbound());
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code(), e.message());
        assertTrue(e.message().contains("--max-memory"), e.message());
        assertFalse(other.isActive());
        assertEquals(reservedByFirst, store.budget().used(), "the refusal leaves the first snapshot's reservation");
        assertEquals(1, store.list().size());

        byte[] payload = random(5000, 3); // the first goes on to its commit
        ch.writeInbound(new ImageOpen(1, ImageName.of("pages-1.img")));
        ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(payload)));
        ch.writeInbound(new ImageEnd(1, payload.length, crc(payload)));
        ch.writeInbound(new SnapshotCommit(WEB1, List.of(new ImageDigest(ImageName.of("pages-1.img"), payload.length,
                crc(payload)))));
        assertInstanceOf(SnapshotAck.class, ch.readOutbound());
        assertEquals(0, store.budget().ahead(), "the commit gave back what the first reserved and did not use");
        other.finishAndReleaseAll();
    }
}
