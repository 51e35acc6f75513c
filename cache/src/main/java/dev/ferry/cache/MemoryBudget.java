package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many bytes of image memory the cache may hold ({@code --max-memory}), shared by every snapshot being received
 * or held. Reserving past the limit is refused with {@link ErrorCode#RESOURCE_LIMIT} before any memory is allocated,
 * so the cache never dies of memory exhaustion. A reservation is one compare-and-set on {@link #used}: concurrent
 * reservations are admitted in the order they reach it and never together pass the limit.
 *
 * <p>Part of what is reserved may be reserved <em>ahead</em>: a snapshot's whole expected size is reserved at
 * SNAPSHOT_BEGIN ({@link SnapshotMemory}), before its images have taken any chunk. {@link #ahead()} is that part, what
 * the {@link ChunkPool} may fault in before the receivers need it. Thread-safe.
 */
public final class MemoryBudget implements ImageMemory {

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong ahead = new AtomicLong();

    public MemoryBudget(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("--max-memory: " + limit + " (expected: > 0 bytes)");
        }
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }

    /** Bytes reserved now, ahead or taken by images. */
    public long used() {
        return used.get();
    }

    public long free() {
        return limit - used.get();
    }

    /** Bytes reserved for snapshots being received that their images have not taken yet. */
    public long ahead() {
        return ahead.get();
    }

    /** Reserves {@code bytes} or throws RESOURCE_LIMIT, leaving the budget unchanged. */
    public void reserve(long bytes) {
        if (!tryReserve(bytes)) {
            long now = used.get();
            throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "cache memory: " + (now + bytes)
                    + " bytes needed (expected: <= " + limit + "); raise --max-memory on the image-cache "
                    + "or remove snapshots with 'ferry images rm'");
        }
    }

    /** Reserves {@code bytes} if they fit; false (budget unchanged) if not. */
    boolean tryReserve(long bytes) {
        long now;
        do {
            now = used.get();
            if (now + bytes > limit) {
                return false;
            }
        } while (!used.compareAndSet(now, now + bytes));
        return true;
    }

    /** {@link #tryReserve}, counting the bytes as reserved ahead. */
    boolean tryReserveAhead(long bytes) {
        if (!tryReserve(bytes)) {
            return false;
        }
        ahead.addAndGet(bytes);
        return true;
    }

    /** {@code bytes} reserved ahead are now taken by an image (still reserved, no longer ahead). */
    void takeAhead(long bytes) {
        ahead.addAndGet(-bytes);
    }

    /** Frees {@code bytes} reserved ahead that no image took. */
    void freeAhead(long bytes) {
        ahead.addAndGet(-bytes);
        used.addAndGet(-bytes);
    }

    public void free(long bytes) {
        used.addAndGet(-bytes);
    }

    @Override
    public void take(long bytes) {
        reserve(bytes);
    }

    @Override
    public void give(long bytes) {
        free(bytes);
    }
}
