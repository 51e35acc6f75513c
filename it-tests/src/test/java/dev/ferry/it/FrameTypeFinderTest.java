package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

/** {@link FrameTypeFinder}: where the first SNAPSHOT_HELD frame starts, however the bytes are cut into reads. */
class FrameTypeFinderTest {

    private static final int HELD = LinkFaultRelay.SNAPSHOT_HELD;

    /** The cache's side of a migration: HELLO_ACK, SNAPSHOT_READY, SNAPSHOT_ACK, then the hand-over frames. */
    private static final class Stream {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long heldAt = -1;

        Stream frame(int type, int streamId, byte[] payload) {
            if (type == HELD && heldAt < 0) {
                heldAt = bytes.size();
            }
            ByteBuffer header = ByteBuffer.allocate(10).putInt(payload.length + 6).put((byte) type).put((byte) 0)
                    .putInt(streamId);
            bytes.writeBytes(header.array());
            bytes.writeBytes(payload);
            return this;
        }

        byte[] toArray() {
            return bytes.toByteArray();
        }
    }

    /** A payload that itself looks like a SNAPSHOT_HELD header: only frame boundaries may count. */
    private static final byte[] DECOY = {0, 0, 0, 6, (byte) HELD, 0, 0, 0, 0, 0, (byte) HELD, (byte) HELD};

    private static Stream handOver() {
        return new Stream()
                .frame(0x02, 0, new byte[] {0x08, 0x01, 0x12, 0x06, 't', 'a', 'r', 'g', 'e', 't'})
                .frame(0x0B, 0, DECOY)
                .frame(0x08, 0, new byte[0])
                .frame(HELD, 0, new byte[] {0x0a, 0x04, 'w', 'e', 'b', '1'})
                .frame(0x0C, 0, new byte[] {0x0a, 0x04, 'w', 'e', 'b', '1', 0x10, 0x2a})
                .frame(HELD, 0, new byte[] {0x0a, 0x04, 'w', 'e', 'b', '2'});
    }

    @Test
    void findsHeldFrameAllAtOnce() {
        Stream s = handOver();
        byte[] bytes = s.toArray();
        FrameTypeFinder finder = new FrameTypeFinder(HELD);
        finder.feed(bytes, 0, bytes.length);
        assertEquals(s.heldAt, finder.found());
        assertEquals(4, finder.foundFrame(), "SNAPSHOT_HELD is the 4th frame");
        assertEquals(12, finder.foundLength());
        assertEquals(s.heldAt, finder.passable(), "nothing of the frame may be passed on");
        assertEquals(bytes.length, finder.consumed());
    }

    @Test
    void findsHeldFrameWhenTheStreamIsSplitAtEveryPosition() {
        Stream s = handOver();
        byte[] bytes = s.toArray();
        for (int split = 0; split <= bytes.length; split++) {
            FrameTypeFinder finder = new FrameTypeFinder(HELD);
            long passed = relay(finder, bytes, 0, split, 0);
            assertTrue(passed <= s.heldAt, "split at " + split + ": passed on " + passed + " bytes, beyond the frame at "
                    + s.heldAt);
            passed = relay(finder, bytes, split, bytes.length - split, passed);
            assertEquals(s.heldAt, finder.found(), "split at " + split);
            assertEquals(s.heldAt, passed, "split at " + split + ": every byte before the frame, none of it");
        }
    }

    @Test
    void findsHeldFrameFedOneByteAtATime_holdsBackEachHeaderUntilItsType() {
        Stream s = handOver();
        byte[] bytes = s.toArray();
        FrameTypeFinder finder = new FrameTypeFinder(HELD);
        long passed = 0;
        for (int i = 0; i < bytes.length; i++) {
            passed = relay(finder, bytes, i, 1, passed);
            if (i < s.heldAt + FrameTypeFinder.TYPE_KNOWN_AT - 1) {
                assertEquals(-1, finder.found(), "found after byte " + i);
            } else {
                assertEquals(s.heldAt, finder.found(), "not found after byte " + i);
            }
            assertTrue(passed <= s.heldAt, "byte " + i + ": passed on " + passed);
        }
        assertEquals(s.heldAt, passed);
    }

    @Test
    void holdsBackAHeaderCutShortBeforeItsTypeByte() {
        byte[] bytes = handOver().toArray();
        FrameTypeFinder finder = new FrameTypeFinder(HELD);
        finder.feed(bytes, 0, 4);
        assertEquals(0, finder.passable(), "the type of the first frame is not known yet");
        finder.feed(bytes, 4, 1);
        assertEquals(5, finder.passable(), "HELLO_ACK: passed on");
    }

    @Test
    void passesEverythingOnAStreamWithoutTheType() {
        byte[] bytes = new Stream().frame(0x02, 0, new byte[3]).frame(0x0B, 0, DECOY).frame(0x08, 0, new byte[0])
                .frame(0x0C, 0, new byte[7]).toArray();
        for (int split = 0; split <= bytes.length; split++) {
            FrameTypeFinder finder = new FrameTypeFinder(HELD);
            long passed = relay(finder, bytes, 0, split, 0);
            passed = relay(finder, bytes, split, bytes.length - split, passed);
            assertEquals(-1, finder.found());
            assertEquals(bytes.length, passed, "split at " + split);
        }
    }

    @Test
    void stopsParsingAtALengthBelowSix_passesEverything() {
        byte[] bytes = {0, 0, 0, 5, (byte) HELD, 0, 0, 0, 0, 0, 0, 0, 0, 6, (byte) HELD, 0, 0, 0, 0, 0};
        FrameTypeFinder finder = new FrameTypeFinder(HELD);
        finder.feed(bytes, 0, bytes.length);
        assertEquals(-1, finder.found());
        assertNotNull(finder.stoppedBecause());
        assertTrue(finder.stoppedBecause().contains("length 5"), finder.stoppedBecause());
        assertEquals(bytes.length, finder.passable());
    }

    @Test
    void findsAFrameRightAtTheStart() {
        byte[] bytes = new Stream().frame(HELD, 0, new byte[0]).toArray();
        FrameTypeFinder finder = new FrameTypeFinder(HELD);
        finder.feed(bytes, 0, bytes.length);
        assertEquals(0, finder.found());
        assertEquals(0, finder.passable());
        assertNull(finder.stoppedBecause());
    }

    /**
     * Feeds {@code bytes[off, off + len)} and returns how many bytes a relay has passed on after it, as
     * {@link LinkFaultRelay} does: up to {@link FrameTypeFinder#passable()}, never taking any back.
     */
    private static long relay(FrameTypeFinder finder, byte[] bytes, int off, int len, long passedBefore) {
        finder.feed(bytes, off, len);
        long passable = finder.passable();
        assertTrue(passable >= passedBefore, "passable went back from " + passedBefore + " to " + passable);
        assertTrue(passable <= finder.consumed(), "passable " + passable + " beyond the " + finder.consumed()
                + " bytes fed");
        return passable;
    }
}
