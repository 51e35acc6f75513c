package dev.ferry.posix;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.unixsocket.UnixSocketChannel;

/**
 * Connected AF_UNIX socket pairs made with {@code O_CLOEXEC}, one end for this process and one for a child
 * ({@link Spawn}): a channel nobody else can connect to, with no listener and no name.
 *
 * <p>{@link #stream()} carries CRIU's page-server bytes; a {@link #seqPacket()} pair carries CRIU's RPC, one
 * message per record ({@link #send}, {@link #receive}).
 *
 * <p>Ownership: the caller owns both ends; the child's end is closed here once the child has it.
 */
public final class SocketPair {

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_SEQPACKET = 5;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int POLLFD_SIZE = 8;
    private static final int POLL_SLICE_MILLIS = 100;
    /** Longer records are refused; CRIU's RPC messages are a few hundred bytes. */
    public static final int MAX_RECORD = 1 << 20;

    private SocketPair() {
    }

    /** A SOCK_STREAM pair: [0] for this process, [1] for the child. */
    public static FileDescriptorHandle[] stream() throws PosixException {
        return open(SOCK_STREAM);
    }

    /** A SOCK_SEQPACKET pair (message boundaries kept): [0] for this process, [1] for the child. */
    public static FileDescriptorHandle[] seqPacket() throws PosixException {
        return open(SOCK_SEQPACKET);
    }

    private static FileDescriptorHandle[] open(int type) throws PosixException {
        int[] sv = new int[2];
        if (NativeAccess.POSIX.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
            throw new PosixException("socketpair", NativeAccess.posixErrno(), "AF_UNIX type " + type);
        }
        return new FileDescriptorHandle[] {new FileDescriptorHandle(sv[0]), new FileDescriptorHandle(sv[1])};
    }

    /**
     * This process's end of a {@link #stream()} pair as a blocking {@link SocketChannel}, which takes the descriptor
     * over: closing the channel closes it, and {@code end} must not be closed besides.
     */
    public static SocketChannel channel(FileDescriptorHandle end) {
        return UnixSocketChannel.fromFD(end.fd());
    }

    /** Writes one record. */
    public static void send(FileDescriptorHandle end, byte[] record) throws IOException {
        long n = NativeAccess.POSIX.write(end.fd(), record, record.length);
        if (n < 0) {
            throw new PosixException("write", NativeAccess.posixErrno(), end + " (the peer's end is closed?)");
        }
        if (n != record.length) {
            throw new IOException("wrote " + n + " of a " + record.length + "-byte record to " + end);
        }
    }

    /**
     * Reads the next record, waiting up to {@code timeout}.
     *
     * @throws EOFException if the peer's end is closed (the child exited)
     * @throws SocketTimeoutException if no record came within {@code timeout}
     */
    public static byte[] receive(FileDescriptorHandle end, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Pointer pollFd = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), POLLFD_SIZE);
        while (true) {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("interrupted while waiting for a record on " + end);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SocketTimeoutException("no record on " + end + " within " + timeout.toMillis() + " ms");
            }
            pollFd.putInt(0, end.fd());
            pollFd.putShort(4, (short) LibC.POLLIN);
            pollFd.putShort(6, (short) 0);
            int ready = NativeAccess.LIBC.poll(pollFd, 1, (int) Math.min(POLL_SLICE_MILLIS, Math.max(1, left / 1_000_000)));
            if (ready < 0) {
                int errno = NativeAccess.libcErrno();
                if (errno != PosixException.EINTR) {
                    throw new PosixException("poll", errno, end.toString());
                }
            } else if (ready > 0) {
                break; // POLLIN, or POLLHUP: read tells which
            }
        }
        byte[] buffer = new byte[MAX_RECORD + 1];
        int n = NativeAccess.POSIX.read(end.fd(), buffer, buffer.length);
        if (n < 0) {
            throw new PosixException("read", NativeAccess.posixErrno(), end.toString());
        }
        if (n == 0) {
            throw new EOFException("the other end of " + end + " is closed");
        }
        if (n > MAX_RECORD) {
            throw new IOException("a record longer than " + MAX_RECORD + " bytes on " + end + " (expected: an RPC message)");
        }
        return java.util.Arrays.copyOf(buffer, n);
    }
}
