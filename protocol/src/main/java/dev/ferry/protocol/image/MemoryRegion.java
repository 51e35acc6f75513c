package dev.ferry.protocol.image;

/**
 * A run of bytes in native memory (outside the Java heap) at a fixed address: how a {@link StoredImage} held in
 * direct memory shows its bytes, so that the restore engine can give the pages to CRIU's pipe by reference
 * instead of copying them. A region only describes memory; it owns none.
 *
 * @param address where the bytes start; never 0
 * @param length how many bytes; at least 1
 */
public record MemoryRegion(long address, long length) {

    public MemoryRegion {
        if (address == 0 || length < 1) {
            throw new IllegalArgumentException("region at 0x" + Long.toHexString(address) + " of " + length
                    + " bytes (expected: a non-null address and length >= 1)");
        }
    }
}
