package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class MemoryTest {

    @Test
    void populateWriteMakesDirectMemoryResidentWithoutChangingIt() {
        ByteBuf b = Unpooled.directBuffer(4 << 20, 4 << 20);
        b.setByte(0, 7).setByte((4 << 20) - 1, 9);
        assertTrue(Memory.populateWrite(b.memoryAddress(), b.capacity()),
                "madvise(MADV_POPULATE_WRITE) refused: Linux >= 5.14 is required for it (ferry falls back to touching)");
        assertEquals(7, b.getByte(0));
        assertEquals(9, b.getByte((4 << 20) - 1));
        assertEquals(0, b.getByte(1 << 20));
        b.release();
    }

    @Test
    void populateWriteOfLessThanAPageIsANoOp() {
        assertTrue(Memory.populateWrite(4097, 100));
    }
}
