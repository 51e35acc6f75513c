package dev.ferry.dump;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Direct read buffers for drain threads, kept for reuse: direct memory is freed only by the GC, so allocating
 * 1 MiB per image would let short dumps pile up native memory. A taken buffer belongs to its drain until given back.
 */
final class BufferPool {

    static final int BUFFER_BYTES = 1 << 20;
    private static final int MAX_POOLED = 16;

    private final ConcurrentLinkedDeque<ByteBuffer> pooled = new ConcurrentLinkedDeque<>();

    ByteBuffer take() {
        ByteBuffer b = pooled.pollFirst();
        return b != null ? b.clear() : ByteBuffer.allocateDirect(BUFFER_BYTES);
    }

    void give(ByteBuffer b) {
        if (pooled.size() < MAX_POOLED) {
            pooled.addFirst(b);
        }
    }
}
