package dev.ferry.cache;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * The large chunks ({@link #CHUNK} bytes of direct memory) that hold the bulk of every image, kept for the next
 * snapshot when a snapshot is dropped. Fresh memory costs a page fault and the zeroing of every page on first
 * write, on the event-loop thread that receives; a chunk used before costs neither. Only memory the cache has
 * already held at once is kept, never more than {@code idleLimit} (its {@code --max-memory}), and all of it goes
 * back to the system once the cache has taken no chunk for a while ({@link #trim}).
 *
 * <p>Ownership: the {@link SnapshotStore} owns the pool; a chunk taken belongs to its {@link MemoryImage} until
 * given back. {@link #close()} releases the idle chunks; chunks given back later are released at once.
 * Thread-safe.
 */
final class ChunkPool implements AutoCloseable {

    static final int CHUNK = 4 << 20;

    private final long idleLimit;
    private final ByteBufAllocator allocator;
    private final ArrayDeque<ByteBuf> idle = new ArrayDeque<>();
    private long lastTakeNanos = System.nanoTime();
    private long reused;
    private long allocated;
    private boolean closed;

    /** @param idleLimit the most bytes kept idle (the budget's limit: more can never have been held at once) */
    ChunkPool(long idleLimit) {
        // not Netty's default allocator: its own caches kept ~300 MiB more resident at 1 GiB (bench/README.md)
        this(idleLimit, UnpooledByteBufAllocator.DEFAULT);
    }

    ChunkPool(long idleLimit, ByteBufAllocator allocator) {
        this.idleLimit = idleLimit;
        this.allocator = allocator;
    }

    /** An empty chunk of {@link #CHUNK} bytes: one used before if there is one (the last given back first). */
    ByteBuf take() {
        synchronized (this) {
            lastTakeNanos = System.nanoTime();
            ByteBuf chunk = idle.pollFirst();
            if (chunk != null) {
                reused++;
                return chunk;
            }
            allocated++;
        }
        return allocator.directBuffer(CHUNK, CHUNK);
    }

    /** Takes back a chunk from {@link #take()}; its bytes are not cleared, only its indexes. */
    void give(ByteBuf chunk) {
        synchronized (this) {
            if (!closed && chunk.capacity() == CHUNK && (long) (idle.size() + 1) * CHUNK <= idleLimit) {
                chunk.clear();
                idle.addFirst(chunk);
                return;
            }
        }
        chunk.release();
    }

    /** Releases every idle chunk if none was taken for {@code unused}; returns how many bytes went back. */
    long trim(Duration unused) {
        synchronized (this) {
            if (idle.isEmpty() || System.nanoTime() - lastTakeNanos < unused.toNanos()) {
                return 0;
            }
        }
        return releaseIdle();
    }

    /** Bytes kept idle now. */
    synchronized long idleBytes() {
        return (long) idle.size() * CHUNK;
    }

    /** Chunks handed out that were used before, and chunks newly allocated, since the start. */
    synchronized long[] takes() {
        return new long[] {reused, allocated};
    }

    private long releaseIdle() {
        long bytes = 0;
        while (true) {
            ByteBuf chunk;
            synchronized (this) {
                chunk = idle.pollFirst();
            }
            if (chunk == null) {
                return bytes;
            }
            chunk.release();
            bytes += CHUNK;
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        releaseIdle();
    }
}
