package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link FrameBuffers#takeFrame}: a released frame's memory is handed out again (resident: no page faults), only once
 * its last reference is gone (a resend duplicate shares it), and the free list keeps at most
 * {@link FrameBuffers#MAX_IDLE}. The list is process-wide; each case looks at what it changed.
 */
class FrameBuffersTest {

    @Test
    void aReleasedFrameIsReusedEmptyAndDirect() {
        ByteBuf a = FrameBuffers.takeFrame();
        assertTrue(a.isDirect() && a.hasMemoryAddress(), "frames must be direct with an address (BoringSSL reads them)");
        assertEquals(FrameBuffers.READ_BYTES, a.capacity());
        assertEquals(0, a.writerIndex(), "a new frame starts empty");
        long address = a.memoryAddress();
        a.writeBytes(new byte[] {1, 2, 3});
        assertTrue(a.release());

        ByteBuf b = FrameBuffers.takeFrame();
        try {
            assertEquals(address, b.memoryAddress(), "the most recently released frame comes back first");
            assertEquals(0, b.readableBytes(), "a recycled frame starts empty");
        } finally {
            b.release();
        }
    }

    @Test
    void aFrameWithADuplicateForResendingComesBackOnlyAfterBothAreReleased() {
        ByteBuf frame = FrameBuffers.takeFrame();
        long address = frame.memoryAddress();
        ByteBuf wire = frame.retainedDuplicate(); // what CacheLink sends while the resend window keeps the frame
        int idleBefore = FrameBuffers.idle();
        assertFalse(wire.release(), "the window still holds the frame");
        assertEquals(idleBefore, FrameBuffers.idle(), "recycled while still referenced");
        ByteBuf other = FrameBuffers.takeFrame();
        try {
            assertNotEquals(address, other.memoryAddress(), "memory still in use was handed out again");
        } finally {
            other.release();
        }
        assertTrue(frame.release());
        ByteBuf again = FrameBuffers.takeFrame();
        try {
            assertEquals(address, again.memoryAddress(), "the frame did not come back once both were released");
        } finally {
            again.release();
        }
    }

    @Test
    void keepsAtMostMaxIdleFramesAndFreesTheRest() {
        List<ByteBuf> many = new ArrayList<>();
        for (int i = 0; i < FrameBuffers.MAX_IDLE + 20; i++) {
            many.add(FrameBuffers.takeFrame());
        }
        many.forEach(ByteBuf::release);
        assertEquals(FrameBuffers.MAX_IDLE, FrameBuffers.idle());
    }
}
