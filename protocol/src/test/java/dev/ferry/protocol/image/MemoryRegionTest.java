package dev.ferry.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MemoryRegionTest {

    @Test
    void refusesANullAddressOrAnEmptyRun() {
        assertEquals(4096, new MemoryRegion(0x7f00_0000_1000L, 4096).length());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(0, 4096));
        assertEquals("region at 0x0 of 4096 bytes (expected: a non-null address and length >= 1)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(0x1000, 0));
    }
}
