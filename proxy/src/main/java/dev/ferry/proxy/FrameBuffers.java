package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;

/**
 * The direct buffers that carry IMAGE_DATA payloads from CRIU's pipes to the socket, reused across frames and
 * snapshots. Netty's default (adaptive) allocator serves a 1 MiB request from fresh memory every time, so each frame
 * cost page faults and the zeroing of 256 pages on the drain thread (a third of its CPU in a profile of a 1 GiB
 * dump, bench/README.md); a pooled arena hands the same memory out again once the socket has sent a frame.
 *
 * <p>Ownership: a buffer taken belongs to the caller until released (the channel releases it once written). The
 * allocator is process-wide and keeps what at most was in flight at once: the link's write-buffer watermark plus one
 * frame per drain thread, a few tens of MiB. Thread-safe.
 */
final class FrameBuffers {

    /**
     * The most one pipe read takes into one frame. Smaller than the 1 MiB a frame may carry, so that the CRC32C pass
     * right after the read finds the bytes still in the CPU's L2 cache; the frames cost a few microseconds each.
     */
    static final int READ_BYTES = 256 << 10;

    private static final PooledByteBufAllocator POOL = new PooledByteBufAllocator(true);

    private FrameBuffers() {
    }

    /** A direct buffer of exactly {@code capacity} bytes, empty. */
    static ByteBuf take(int capacity) {
        return POOL.directBuffer(capacity, capacity);
    }
}
