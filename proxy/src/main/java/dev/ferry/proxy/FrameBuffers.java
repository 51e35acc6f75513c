package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;
import io.netty.util.internal.PlatformDependent;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The direct buffers that carry IMAGE_DATA payloads from CRIU's pipes to the socket, reused across frames and
 * snapshots, so that image bytes land in memory that is already resident: fresh memory costs a page fault and the
 * zeroing of every page on the drain thread.
 *
 * <p>Frames of {@link #READ_BYTES} ({@link #takeFrame}, the pipe reads) come from a free list of their own: a released
 * frame goes back to it, the most recently used first out, and is freed at once (never left to the garbage collector)
 * when the list is full. Netty's pooled allocator, used before, destroys a 4 MiB chunk as soon as none of its buffers
 * is in use and maps a fresh one for the next frame: 25,000-49,000 page faults per GB moved (bench/README.md). The
 * list holds {@link #MAX_IDLE} frames, more than can be in flight at once: the resend window (32 MiB), the link's
 * write buffer (4 MiB) and one frame per drain. Other sizes ({@link #take}) come from a pooled allocator.
 *
 * <p>Ownership: a buffer taken belongs to the caller until released (the channel releases it once written; a
 * duplicate kept for resending shares the reference count); then its memory is the free list's. Thread-safe.
 */
final class FrameBuffers {

    /**
     * The most one pipe read takes into one frame. Smaller than the 1 MiB a frame may carry, so that the CRC32C pass
     * right after the read finds the bytes still in the CPU's L2 cache; the frames cost a few microseconds each.
     */
    static final int READ_BYTES = 256 << 10;
    /** Idle frames kept (48 MiB): above what is in flight at most, so that a steady stream never frees one. */
    static final int MAX_IDLE = 192;

    private static final PooledByteBufAllocator POOL = new PooledByteBufAllocator(true);
    private static final ConcurrentLinkedDeque<CleanableDirectBuffer> IDLE = new ConcurrentLinkedDeque<>();
    private static final AtomicInteger IDLE_COUNT = new AtomicInteger();

    private FrameBuffers() {
    }

    /** A direct buffer of exactly {@code capacity} bytes, empty. */
    static ByteBuf take(int capacity) {
        return POOL.directBuffer(capacity, capacity);
    }

    /** An empty direct frame of exactly {@link #READ_BYTES}, resident when one was released before. */
    static ByteBuf takeFrame() {
        CleanableDirectBuffer memory = IDLE.pollFirst();
        if (memory == null) {
            memory = PlatformDependent.allocateDirect(READ_BYTES);
        } else {
            IDLE_COUNT.decrementAndGet();
        }
        memory.buffer().clear();
        Frame frame = new Frame(memory);
        frame.clear(); // a wrapped buffer starts full
        return frame;
    }

    /** Frames idle in the free list now (for tests). */
    static int idle() {
        return IDLE_COUNT.get();
    }

    private static void recycle(CleanableDirectBuffer memory) {
        if (IDLE_COUNT.incrementAndGet() <= MAX_IDLE) {
            IDLE.offerFirst(memory);
        } else {
            IDLE_COUNT.decrementAndGet();
            memory.clean();
        }
    }

    /**
     * A frame whose memory goes back to the free list when its last reference is released. Netty never frees a
     * buffer it wrapped; {@link #deallocate} runs once, when the reference count reaches 0.
     */
    private static final class Frame extends UnpooledUnsafeDirectByteBuf {
        private final CleanableDirectBuffer memory;

        Frame(CleanableDirectBuffer memory) {
            super(UnpooledByteBufAllocator.DEFAULT, memory.buffer(), READ_BYTES);
            this.memory = memory;
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            recycle(memory);
        }
    }
}
