package dev.ferry.posix;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * Anonymous pipes: creation with O_CLOEXEC, pipe capacity (F_SETPIPE_SZ), and handing memory to a pipe by
 * reference ({@code vmsplice(2)}).
 */
public final class Pipes {

    private static final Path PIPE_MAX_SIZE = Path.of("/proc/sys/fs/pipe-max-size");
    private static final int POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }
    /** How long one wait for room in the pipe lasts before the thread checks whether it was interrupted. */
    private static final int POLL_MILLIS = 200;

    private Pipes() {
    }

    /**
     * Creates a pipe with O_CLOEXEC. Returns {@code [read end, write end]}; the caller owns both handles.
     */
    public static FileDescriptorHandle[] pipe() throws PosixException {
        int[] fds = new int[2];
        if (NativeAccess.LIBC.pipe2(fds, LibC.O_CLOEXEC) < 0) {
            throw new PosixException("pipe2", NativeAccess.libcErrno(), null);
        }
        return new FileDescriptorHandle[] {new FileDescriptorHandle(fds[0]), new FileDescriptorHandle(fds[1])};
    }

    /**
     * Best effort: asks the kernel to make the pipe hold {@code bytes} (rounded up to a power-of-two number of
     * pages). Returns the new capacity, or -1 if the kernel refused (e.g. above {@code /proc/sys/fs/pipe-max-size}
     * without CAP_SYS_RESOURCE), in which case the pipe keeps its old capacity.
     */
    public static int setPipeSize(FileDescriptorHandle pipe, int bytes) {
        if (!pipe.isOpen()) {
            return -1;
        }
        int size = NativeAccess.LIBC.fcntl(pipe.fd(), LibC.F_SETPIPE_SZ, bytes);
        return size < 0 ? -1 : size;
    }

    /** The pipe's current capacity in bytes, or -1 if the fd is not a pipe. */
    public static int pipeSize(FileDescriptorHandle pipe) {
        if (!pipe.isOpen()) {
            return -1;
        }
        int size = NativeAccess.LIBC.fcntl(pipe.fd(), LibC.F_GETPIPE_SZ, 0);
        return size < 0 ? -1 : size;
    }

    /**
     * The largest capacity an unprivileged process may give a pipe ({@code /proc/sys/fs/pipe-max-size}), or -1 if
     * it cannot be read.
     */
    public static int maxPipeSize() {
        try {
            return Integer.parseInt(readSysctl(PIPE_MAX_SIZE));
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /**
     * A {@code /proc/sys} value, read with one {@code read(2)}: a sysctl file answers only a read at offset 0, so
     * {@link Files#readString}, which reads a zero-size file a byte at a time, gets the first digit alone
     * ("1" for 1048576).
     */
    public static String readSysctl(java.nio.file.Path file) throws IOException {
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(file)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4096);
            int n = c.read(b);
            return n <= 0 ? "" : new String(b.array(), 0, n, StandardCharsets.US_ASCII).trim();
        }
    }

    /**
     * Puts the {@code length} bytes of native memory at {@code address} into the pipe whose write end is
     * {@code pipe}, with {@code vmsplice(2)} and no SPLICE_F_GIFT: the pipe references the pages rather than a
     * copy, and the reader's {@code read(2)} copies them out. Blocks until every byte is in the pipe, waiting for
     * room as the reader drains it, whether or not the fd is O_NONBLOCK.
     *
     * <p>Ownership: the caller keeps the memory, and must neither change nor free it until the reader has read
     * those bytes or closed its end; returning from this method does not mean they were read. The caller keeps
     * {@code pipe} too; this method neither closes it nor changes its flags.
     *
     * <p>Interruption: a thread interrupted while it waits for room stops within 200 ms with
     * {@link InterruptedIOException} (interrupt status kept); part of the bytes may be in the pipe by then.
     *
     * @throws PosixException with errno EPIPE if the reader closed its end (SIGPIPE is ignored by the JVM)
     * @throws ClosedChannelException if {@code pipe} is closed
     */
    public static void vmspliceFully(FileDescriptorHandle pipe, long address, long length) throws IOException {
        if (length < 0 || (length > 0 && address == 0)) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(address) + ", length " + length
                    + " (expected: a non-null address and length >= 0)");
        }
        long[] iov = new long[2];
        Pointer pollFd = null;
        long done = 0;
        while (done < length) {
            if (!pipe.isOpen()) {
                throw new ClosedChannelException();
            }
            iov[0] = address + done;
            iov[1] = length - done;
            // Never block inside the call: a thread stuck in vmsplice could not be interrupted.
            long n = NativeAccess.LIBC.vmsplice(pipe.fd(), iov, 1, LibC.SPLICE_F_NONBLOCK);
            if (n > 0) {
                done += n;
                continue;
            }
            int errno = n == 0 ? PosixException.EAGAIN : NativeAccess.libcErrno();
            if (errno == PosixException.EINTR) {
                continue;
            }
            if (errno == PosixException.EPIPE) {
                throw new PosixException("vmsplice", errno, pipe + " after " + done + " of " + length
                        + " bytes (the pipe's reader closed its end)");
            }
            if (errno != PosixException.EAGAIN) {
                throw new PosixException("vmsplice", errno, pipe.toString());
            }
            if (pollFd == null) {
                pollFd = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), POLLFD_SIZE);
            }
            awaitRoom(pipe, pollFd, done, length);
        }
    }

    /** Waits up to {@link #POLL_MILLIS} for room in the pipe (POLLOUT) or for its reader to go (POLLERR). */
    private static void awaitRoom(FileDescriptorHandle pipe, Pointer pollFd, long done, long length) throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("interrupted while putting bytes into " + pipe + " after " + done + " of "
                    + length + " bytes");
        }
        pollFd.putInt(0, pipe.fd());
        pollFd.putShort(4, (short) LibC.POLLOUT);
        pollFd.putShort(6, (short) 0);
        if (NativeAccess.LIBC.poll(pollFd, 1, POLL_MILLIS) < 0) {
            int errno = NativeAccess.libcErrno();
            if (errno != PosixException.EINTR) {
                throw new PosixException("poll", errno, pipe.toString());
            }
        } else if ((pollFd.getShort(6) & LibC.POLLNVAL) != 0) {
            throw new PosixException("poll", 9 /* EBADF */, pipe + " (not an open fd)");
        }
        // POLLOUT and POLLERR (reader gone: EPIPE) are both answered by the next vmsplice.
    }
}
