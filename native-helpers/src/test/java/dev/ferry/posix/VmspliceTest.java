package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InterruptedIOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class VmspliceTest {

    private static final int PATTERN_BYTES = (6 << 20) + 4321; // far more than the pipe's 64 KiB, not page-aligned

    private FileDescriptorHandle readEnd;
    private FileDescriptorHandle writeEnd;

    @BeforeEach
    void pipe() throws Exception {
        FileDescriptorHandle[] pipe = Pipes.pipe();
        readEnd = pipe[0];
        writeEnd = pipe[1];
    }

    @AfterEach
    void closePipe() {
        readEnd.closeQuietly();
        writeEnd.closeQuietly();
    }

    @Test
    void putsEveryByteIntoThePipeWhileAReaderDrainsIt() throws Exception {
        Pointer memory = pattern(PATTERN_BYTES);
        CompletableFuture<Long> mismatchAt = CompletableFuture.supplyAsync(this::readAndCheckPattern);

        Pipes.vmspliceFully(writeEnd, memory.address() + 3, PATTERN_BYTES - 3); // an unaligned start as well
        writeEnd.close(); // EOF once the reader has taken every byte

        assertEquals(-1L, mismatchAt.get(20, TimeUnit.SECONDS), "first wrong byte, or -1");
        Reference.reachabilityFence(memory); // the pipe referenced these pages until the reader was done
    }

    @Test
    void theReaderSeesTheMemoryAsItIsWhenReadNotWhenSpliced() throws Exception {
        // Why the caller must not change or free the memory until it was read: the pipe holds the pages, not a copy.
        Pointer memory = pattern(8192);
        memory.putByte(100, (byte) 'a');
        Pipes.vmspliceFully(writeEnd, memory.address(), 4096);

        memory.putByte(100, (byte) 'b');

        ByteBuffer b = ByteBuffer.allocate(4096);
        try (FileChannel in = readEnd.openChannel(false)) {
            while (b.hasRemaining()) {
                in.read(b);
            }
        }
        assertEquals('b', b.get(100));
        Reference.reachabilityFence(memory);
    }

    @Test
    void aClosedReadEndFailsWithEpipeAtOnce() throws Exception {
        Pointer memory = pattern(1 << 20);
        readEnd.close();

        PosixException e = assertThrows(PosixException.class, () -> Pipes.vmspliceFully(writeEnd, memory.address(), 1 << 20));

        assertEquals(PosixException.EPIPE, e.errno());
        assertEquals("vmsplice", e.call());
        assertTrue(e.getMessage().contains("after 0 of 1048576 bytes (the pipe's reader closed its end)"), e.getMessage());
        assertTrue(e.getMessage().endsWith("Broken pipe (errno 32)"), e.getMessage());
        Reference.reachabilityFence(memory);
    }

    @Test
    void aReaderThatGoesAwayWhileTheWriterWaitsForRoomFailsItWithEpipe() throws Exception {
        Pointer memory = pattern(PATTERN_BYTES);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                Pipes.vmspliceFully(writeEnd, memory.address(), PATTERN_BYTES);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try (FileChannel in = readEnd.openChannel(false)) {
            in.read(ByteBuffer.allocate(10_000)); // the writer fills the pipe and waits for room
        }
        readEnd.close();

        ExecutionException e = assertThrows(ExecutionException.class, () -> writer.get(10, TimeUnit.SECONDS));

        PosixException cause = (PosixException) e.getCause().getCause();
        assertEquals(PosixException.EPIPE, cause.errno());
        Reference.reachabilityFence(memory);
    }

    @Test
    void aWriterWaitingForRoomStopsWhenInterrupted() throws Exception {
        Pointer memory = pattern(1 << 20);
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        Thread writer = new Thread(() -> {
            try {
                Pipes.vmspliceFully(writeEnd, memory.address(), 1 << 20); // nobody reads: the pipe fills up
                failure.complete(null);
            } catch (Exception e) {
                failure.complete(e);
            }
        });
        writer.start();
        Thread.sleep(100);

        writer.interrupt();

        Throwable e = failure.get(5, TimeUnit.SECONDS);
        assertTrue(e instanceof InterruptedIOException, String.valueOf(e));
        assertTrue(e.getMessage().contains(" of 1048576 bytes"), e.getMessage());
        Reference.reachabilityFence(memory);
    }

    @Test
    void nothingToPutReturnsAtOnce() throws Exception {
        Pipes.vmspliceFully(writeEnd, 0, 0);
        assertThrows(IllegalArgumentException.class, () -> Pipes.vmspliceFully(writeEnd, 0, 1));
    }

    /** Native memory holding {@code size} bytes of {@link #patternByte}; freed when the pointer is collected. */
    private static Pointer pattern(int size) {
        Pointer memory = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), size);
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = patternByte(i);
        }
        memory.put(0, bytes, 0, size);
        return memory;
    }

    private static byte patternByte(long offset) {
        return (byte) (offset * 31 + (offset >>> 12)); // differs from page to page, not only within one
    }

    /** Reads to EOF and returns the offset of the first byte that is not the pattern's (from offset 3), or -1. */
    private long readAndCheckPattern() {
        try (FileChannel in = readEnd.openChannel(false)) {
            ByteBuffer b = ByteBuffer.allocate(100_000);
            long offset = 3;
            int n;
            while ((n = in.read(b.clear())) >= 0) {
                for (int i = 0; i < n; i++, offset++) {
                    if (b.get(i) != patternByte(offset)) {
                        return offset;
                    }
                }
            }
            return offset == PATTERN_BYTES ? -1 : offset;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
