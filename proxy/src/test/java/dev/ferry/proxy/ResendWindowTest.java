package dev.ferry.proxy;

import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy's window of unconfirmed bytes: bounded, released on RECEIVED, replayed from the cache's offsets. */
class ResendWindowTest {

    private static final SnapshotName WEB1 = SnapshotName.of("web1");
    private static final ImageName PAGES = ImageName.of("pages-1.img");
    private static final ImageName CORE = ImageName.of("core-1.img");

    private static ByteBuf bytes(int n, int first) {
        ByteBuf b = Unpooled.directBuffer(n);
        for (int i = 0; i < n; i++) {
            b.writeByte(first + i);
        }
        return b;
    }

    @Test
    void fullAtTheLimit_confirmationsReleaseAndMakeRoom() {
        ResendWindow w = new ResendWindow(300);
        w.opened(new ImageOpen(1, PAGES));
        List<ByteBuf> kept = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ByteBuf b = bytes(100, i * 100);
            kept.add(b);
            w.sent(1, b);
        }
        assertTrue(w.isFull());
        w.confirmed(new Received(List.of(new Received.StreamOffset(1, 150))));
        assertEquals(200, w.kept(), "only whole buffers below the offset are released");
        assertEquals(0, kept.get(0).refCnt());
        assertEquals(1, kept.get(1).refCnt());
        assertFalse(w.isFull());
        w.clear();
        assertEquals(0, kept.get(2).refCnt());
        assertEquals(0, w.kept());
    }

    @Test
    void replayContinuesFromTheCachesOffset_reopensUnseenImages_resendsEndAndCommit() {
        ResendWindow w = new ResendWindow(1 << 20);
        w.opened(new ImageOpen(1, PAGES));
        w.sent(1, bytes(100, 0));
        w.sent(1, bytes(100, 100));
        w.ended(new ImageEnd(1, 200, 0x1234));
        w.opened(new ImageOpen(2, CORE));
        w.sent(2, bytes(10, 0));
        SnapshotCommit commit = new SnapshotCommit(WEB1, List.of(new ImageDigest(PAGES, 200, 0x1234)));
        w.committing(commit);

        // the cache holds 130 bytes of pages-1.img, never saw core-1.img's IMAGE_OPEN
        List<WireMessage> frames = w.replay(new SnapshotReattached(WEB1,
                List.of(new SnapshotReattached.HeldImage(PAGES, 1, 130, false))));
        assertEquals(5, frames.size(), String.valueOf(frames));
        ImageData tail = assertInstanceOf(ImageData.class, frames.get(0));
        assertEquals(1, tail.streamId());
        byte[] expected = new byte[70];
        for (int i = 0; i < 70; i++) {
            expected[i] = (byte) (130 + i);
        }
        byte[] got = new byte[tail.data().readableBytes()];
        tail.data().getBytes(tail.data().readerIndex(), got);
        assertArrayEquals(expected, got, "exactly the bytes from offset 130 on, no duplicate and no gap");
        assertEquals(new ImageEnd(1, 200, 0x1234), frames.get(1));
        assertEquals(new ImageOpen(2, CORE), frames.get(2));
        assertEquals(10, ((ImageData) frames.get(3)).data().readableBytes());
        assertEquals(commit, frames.get(4));
        assertEquals(100 + 10, w.kept(), "the buffer wholly below 130 is released");
        frames.forEach(m -> {
            if (m instanceof ImageData d) {
                d.release();
            }
        });
        w.clear();
    }

    @Test
    void replayForgetsImagesTheCacheHoldsComplete() {
        ResendWindow w = new ResendWindow(1 << 20);
        w.opened(new ImageOpen(1, PAGES));
        ByteBuf b = bytes(50, 0);
        w.sent(1, b);
        w.ended(new ImageEnd(1, 50, 7));
        List<WireMessage> frames = w.replay(new SnapshotReattached(WEB1,
                List.of(new SnapshotReattached.HeldImage(PAGES, 0, 50, true))));
        assertEquals(List.of(), frames);
        assertEquals(0, b.refCnt());
    }

    @Test
    void replayRefusesAnOffsetBelowWhatWasKept() {
        ResendWindow w = new ResendWindow(1 << 20);
        w.opened(new ImageOpen(1, PAGES));
        w.sent(1, bytes(100, 0));
        w.sent(1, bytes(100, 100));
        w.confirmed(new Received(List.of(new Received.StreamOffset(1, 100))));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.replay(new SnapshotReattached(WEB1,
                List.of(new SnapshotReattached.HeldImage(PAGES, 1, 50, false)))));
        assertTrue(e.getMessage().contains("the cache holds 50 bytes"), e.getMessage());
        w.clear();
    }

    @Test
    void replayRefusesImagesNeverSent() {
        ResendWindow w = new ResendWindow(1 << 20);
        assertThrows(IllegalStateException.class, () -> w.replay(new SnapshotReattached(WEB1,
                List.of(new SnapshotReattached.HeldImage(CORE, 1, 5, false)))));
    }
}
