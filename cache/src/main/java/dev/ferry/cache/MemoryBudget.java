package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many bytes of image memory the cache may hold ({@code --max-memory}). Reserving past the limit is
 * refused with {@link ErrorCode#RESOURCE_LIMIT} before any memory is allocated, so the cache never dies
 * of memory exhaustion. Thread-safe.
 */
public final class MemoryBudget {

    private final long limit;
    private final AtomicLong used = new AtomicLong();

    public MemoryBudget(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("--max-memory: " + limit + " (expected: > 0 bytes)");
        }
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }

    public long used() {
        return used.get();
    }

    public long free() {
        return limit - used.get();
    }

    /** Reserves {@code bytes} or throws RESOURCE_LIMIT, leaving the budget unchanged. */
    public void reserve(long bytes) {
        long now;
        do {
            now = used.get();
            if (now + bytes > limit) {
                throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "cache memory: " + (now + bytes)
                        + " bytes needed (expected: <= " + limit + "); raise --max-memory on the image-cache "
                        + "or remove snapshots with 'ferry images rm'");
            }
        } while (!used.compareAndSet(now, now + bytes));
    }

    public void free(long bytes) {
        used.addAndGet(-bytes);
    }
}
