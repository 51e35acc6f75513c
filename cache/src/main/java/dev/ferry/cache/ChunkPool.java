package dev.ferry.cache;

import dev.ferry.posix.Memory;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The large chunks ({@link #CHUNK} bytes of direct memory) that hold the bulk of every image, kept for the next
 * snapshot when a snapshot is dropped. Fresh memory costs a page fault and the zeroing of every page on first
 * write, on the event-loop thread that receives; a chunk used before costs neither. Only memory the cache has
 * already held at once is kept, never more than {@code idleLimit} (its {@code --max-memory}), and all of it goes
 * back to the system once the cache has taken no chunk for a while ({@link #trim}).
 *
 * <p>Fresh chunks cost most for the first snapshot after a start: {@link #prefault} makes the chunks a snapshot
 * announced it will need ahead of the receiving thread, on a thread of the pool's own, one {@code madvise} per chunk
 * instead of a page fault per page; the receiver then takes them like reused ones. Fresh chunks are not zeroed by the
 * JDK when Netty can allocate without a cleaner (the jar's {@code Add-Opens}): every byte of a chunk is written before
 * it is read.
 *
 * <p>Ownership: the {@link SnapshotStore} owns the pool; a chunk taken belongs to its {@link MemoryImage} until
 * given back. {@link #close()} releases the idle chunks; chunks given back later are released at once.
 * Thread-safe.
 */
final class ChunkPool implements AutoCloseable {

    static final int CHUNK = 4 << 20;
    private static final Logger LOG = Logger.getLogger(ChunkPool.class.getName());

    private final long idleLimit;
    private final ByteBufAllocator allocator;
    private final ArrayDeque<ByteBuf> idle = new ArrayDeque<>();
    private long lastTakeNanos = System.nanoTime();
    private long reused;
    private long allocated;
    private long prefaulted;
    /** Chunks {@link #prefault} still has to make; a take that finds the pool empty makes one itself instead. */
    private long toPrefault;
    private boolean closed;
    private final ExecutorService prefaulter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ferry-chunk-prefault");
        t.setDaemon(true);
        return t;
    });

    /** @param idleLimit the most bytes kept idle (the budget's limit: more can never have been held at once) */
    ChunkPool(long idleLimit) {
        // not Netty's default allocator: its own caches kept ~300 MiB more resident at 1 GiB (bench/README.md);
        // without a cleaner when Netty can (no JDK zeroing pass), released explicitly as every chunk is
        this(idleLimit, new UnpooledByteBufAllocator(true, false, true));
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
            if (toPrefault > 0) {
                toPrefault--; // the prefaulter is behind: this one is made here, so it makes one less
            }
        }
        return allocator.directBuffer(CHUNK, CHUNK);
    }

    /**
     * Makes chunks for about {@code bytes} more image memory resident ahead of the receiver, in the background: as
     * many as the idle chunks do not already cover, never more than the idle limit. Returns at once.
     */
    void prefault(long bytes) {
        int chunks;
        synchronized (this) {
            if (closed) {
                return;
            }
            long wanted = Math.min(bytes, idleLimit) / CHUNK - idle.size() - toPrefault;
            if (wanted <= 0) {
                return;
            }
            chunks = (int) wanted;
            toPrefault += chunks;
        }
        try {
            prefaulter.execute(this::prefaultPending);
        } catch (RejectedExecutionException e) {
            synchronized (this) {
                toPrefault = 0; // closed meanwhile
            }
        }
    }

    private void prefaultPending() {
        int made = 0;
        long start = System.nanoTime();
        while (true) {
            synchronized (this) {
                if (closed || toPrefault <= 0 || (long) (idle.size() + 1) * CHUNK > idleLimit) {
                    toPrefault = 0;
                    break;
                }
                toPrefault--;
            }
            ByteBuf chunk = allocator.directBuffer(CHUNK, CHUNK);
            if (chunk.hasMemoryAddress() && !Memory.populateWrite(chunk.memoryAddress(), CHUNK)) {
                touch(chunk);
            }
            synchronized (this) {
                if (closed) {
                    chunk.release();
                    return;
                }
                idle.addLast(chunk); // after the reused ones, which are more likely still in the CPU's caches
                prefaulted++;
                made++;
            }
        }
        if (made > 0) {
            int n = made;
            LOG.info(() -> "prefaulted " + n + " chunks of " + (CHUNK >> 20) + " MiB in "
                    + (System.nanoTime() - start) / 1_000_000 + " ms");
        }
    }

    /** Writes one byte per page: the fallback when the kernel cannot populate the memory in one call. */
    private static void touch(ByteBuf chunk) {
        for (int i = 0; i < CHUNK; i += 4096) {
            chunk.setByte(i, 0);
        }
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

    /**
     * Chunks handed out from the pool (used before, or prefaulted), chunks the taker had to allocate itself, and
     * chunks prefaulted, since the start.
     */
    synchronized long[] takes() {
        return new long[] {reused, allocated, prefaulted};
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
        prefaulter.shutdown();
        try {
            prefaulter.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        releaseIdle();
    }
}
