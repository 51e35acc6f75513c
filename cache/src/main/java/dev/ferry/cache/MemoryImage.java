package dev.ferry.cache;

import dev.ferry.posix.Memory;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.MemoryRegion;
import dev.ferry.protocol.image.StoredImage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * One image held in memory the cache owns: a list of direct chunks that the bytes of IMAGE_DATA frames
 * are copied into (pooled socket buffers are never kept: see java-stack-notes.md, "receiver keeps").
 * Chunks grow from 64 KiB to 4 MiB so that the many small images of a snapshot stay small; the 4 MiB chunks,
 * which hold nearly all the bytes, come from the store's {@link ChunkPool} and go back to it.
 *
 * <p>Ownership: the image owns its chunks and releases them in {@link #release()}, called by its
 * {@link StoredSnapshot}. Writing ({@link #append}, {@link #complete}) happens on one event-loop thread;
 * once complete, {@link #writeTo} and {@link #regions} may run on several threads at once (they only read).
 *
 * <p>Lent by reference: a restore gives the chunks' pages to CRIU's pipes ({@link #regions}, vmsplice), and the
 * pipes hold those pages, not copies, until CRIU reads them. That is safe because a complete image never changes,
 * and its chunks are released (freed, or handed to the next snapshot by the {@link ChunkPool}) only when its
 * snapshot is dropped, which happens after CRIU has exited: {@link RestoreService} and {@link MigrationTarget}
 * drop it after {@code RestoreEngine.restore} returned, which waits for CRIU; {@code ferry images rm} is refused
 * while RESTORING; and {@link SnapshotStore#close} leaves a RESTORING snapshot to its restore.
 */
final class MemoryImage implements StoredImage {

    private static final int FIRST_CHUNK = 64 * 1024;
    private static final int MAX_CHUNK = ChunkPool.CHUNK;

    private final ImageName name;
    private final ByteBufAllocator allocator;
    private final ImageMemory memory;
    private final ChunkPool pool;
    private final List<ByteBuf> chunks = new ArrayList<>();
    private final CRC32C crc = new CRC32C();
    private long size;
    private long reserved;
    private volatile boolean complete;
    private boolean released;

    MemoryImage(ImageName name, ByteBufAllocator allocator, ImageMemory memory, ChunkPool pool) {
        this.name = name;
        this.allocator = allocator;
        this.memory = memory;
        this.pool = pool;
    }

    ImageName name() {
        return name;
    }

    /**
     * Copies the readable bytes of {@code data} into the image, piece by piece (a frame's payload is a slice of
     * several decrypted socket reads): CRC32C of a piece, then its copy, while it is still in the CPU's cache. Direct
     * pieces are copied with libc's memcpy ({@link Memory#copy}). The caller keeps ownership of {@code data}.
     */
    void append(ByteBuf data) {
        if (complete || released) {
            throw new IllegalStateException("image " + name + " is " + (released ? "released" : "complete"));
        }
        int length = data.readableBytes();
        int index = data.readerIndex();
        if (data.nioBufferCount() == 1) {
            appendPiece(data.nioBuffer(index, length));
        } else {
            for (ByteBuffer piece : data.nioBuffers(index, length)) {
                appendPiece(piece);
            }
        }
    }

    private void appendPiece(ByteBuffer piece) {
        crc.update(piece.duplicate());
        boolean direct = piece.isDirect() && PlatformDependent.hasUnsafe();
        long from = direct ? PlatformDependent.directBufferAddress(piece) + piece.position() : 0;
        while (piece.hasRemaining()) {
            ByteBuf last = chunks.isEmpty() ? null : chunks.get(chunks.size() - 1);
            if (last == null || !last.isWritable()) {
                int capacity = last == null ? FIRST_CHUNK : Math.min(MAX_CHUNK, last.capacity() * 2);
                memory.take(capacity);
                reserved += capacity;
                last = capacity == MAX_CHUNK ? pool.take() : allocator.directBuffer(capacity, capacity);
                chunks.add(last);
            }
            int n = Math.min(piece.remaining(), last.writableBytes());
            if (direct && last.hasMemoryAddress()) {
                Memory.copy(last.memoryAddress() + last.writerIndex(), from, n);
                last.writerIndex(last.writerIndex() + n);
                from += n;
                piece.position(piece.position() + n);
            } else {
                ByteBuffer part = piece.slice();
                part.limit(n);
                last.writeBytes(part);
                piece.position(piece.position() + n);
            }
            size += n;
        }
    }

    long size0() {
        return size;
    }

    int crc32c() {
        return (int) crc.getValue();
    }

    boolean isComplete() {
        return complete;
    }

    void complete() {
        complete = true;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void writeTo(WritableByteChannel out) throws IOException {
        if (!complete) {
            throw new IOException("image " + name + " is not complete");
        }
        for (ByteBuf chunk : chunks) {
            ByteBuffer b = chunk.nioBuffer(0, chunk.writerIndex());
            while (b.hasRemaining()) {
                out.write(b);
            }
        }
    }

    /**
     * The chunks' filled bytes, in order, as native memory (see the class comment for how long it stays valid);
     * empty if a chunk has no memory address (an allocator without Unsafe), so the restore writes instead.
     */
    @Override
    public synchronized Optional<List<MemoryRegion>> regions() throws IOException {
        if (!complete || released) {
            throw new IOException("image " + name + " is " + (released ? "released" : "not complete"));
        }
        List<MemoryRegion> regions = new ArrayList<>(chunks.size());
        for (ByteBuf chunk : chunks) {
            if (!chunk.hasMemoryAddress()) {
                return Optional.empty();
            }
            if (chunk.writerIndex() > 0) {
                regions.add(new MemoryRegion(chunk.memoryAddress(), chunk.writerIndex()));
            }
        }
        return Optional.of(regions);
    }

    /**
     * Recomputes the CRC32C over the bytes held now (not the one computed on arrival); only reads, and
     * excludes {@link #release()} while it runs. Throws IllegalStateException if the image was released.
     */
    synchronized int recomputeCrc32c() {
        if (released) {
            throw new IllegalStateException("image " + name + " was released");
        }
        CRC32C c = new CRC32C();
        for (ByteBuf chunk : chunks) {
            c.update(chunk.nioBuffer(0, chunk.writerIndex()));
        }
        return (int) c.getValue();
    }

    /** The number of bytes held now, counted over the chunks. */
    synchronized long heldBytes() {
        long n = 0;
        for (ByteBuf chunk : chunks) {
            n += chunk.writerIndex();
        }
        return n;
    }

    /** Test hook: flips the bits of the byte at {@code offset}, as memory corruption would. */
    synchronized void corruptForTest(long offset) {
        long at = offset;
        for (ByteBuf chunk : chunks) {
            if (at < chunk.writerIndex()) {
                int i = (int) at;
                chunk.setByte(i, ~chunk.getByte(i));
                return;
            }
            at -= chunk.writerIndex();
        }
        throw new IndexOutOfBoundsException("offset " + offset + " of image " + name + " (size " + size + ")");
    }

    /** Frees the chunks and gives their bytes back to the snapshot's memory. Idempotent. */
    synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        for (ByteBuf chunk : chunks) {
            if (chunk.capacity() == MAX_CHUNK) {
                pool.give(chunk);
            } else {
                chunk.release();
            }
        }
        chunks.clear();
        memory.give(reserved);
        reserved = 0;
    }
}
