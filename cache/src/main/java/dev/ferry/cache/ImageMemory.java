package dev.ferry.cache;

/**
 * Where a {@link MemoryImage} takes the bytes of its chunks from and gives them back to: its snapshot's
 * {@link SnapshotMemory} in the daemon, or the whole {@link MemoryBudget} in tests of a lone image.
 */
interface ImageMemory {

    /** Takes {@code bytes} or throws RESOURCE_LIMIT, leaving everything unchanged. */
    void take(long bytes);

    /** Gives back {@code bytes} taken before. */
    void give(long bytes);
}
