package dev.ferry.posix;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.AsynchronousCloseException;
import java.nio.file.Path;
import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import jnr.ffi.byref.IntByReference;
import jnr.posix.CmsgHdr;
import jnr.posix.MsgHdr;
import jnr.unixsocket.Credentials;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;

/**
 * One connected AF_UNIX stream socket that can carry file descriptors (SCM_RIGHTS), e.g. CRIU's streamer
 * connection. Every read is a {@code recvmsg} with a control buffer and asks for exactly the bytes still needed:
 * the kernel drops a passed fd whose carrier byte is read without a control buffer, so no byte is ever read any
 * other way. Fds that ride on any byte are queued and handed out by {@link #receiveFd()}.
 *
 * <p>Ownership: the holder owns the socket and fds still queued in it ({@link #close()} closes them); each
 * {@link FileDescriptorHandle} returned by {@link #receiveFd()} is owned by the caller.
 *
 * <p>Thread-safety: one reader and one writer may work at the same time; {@link #close()} may come from any
 * thread and makes blocked reads and writes fail with {@link AsynchronousCloseException}.
 */
public final class FdSocket implements Closeable {

    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int MAX_FDS_PER_READ = 8;
    private static final int IO_CHUNK = 64 * 1024;

    private final UnixSocketChannel channel;
    private final int fd;
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(IO_CHUNK);
    private final ByteBuffer writeBuffer = ByteBuffer.allocateDirect(IO_CHUNK);
    private final Object readMonitor = new Object();
    private final Object writeMonitor = new Object();
    /** Read lock: a call is using {@link #fd}; write lock: {@link #close()} is closing it. */
    private final ReentrantReadWriteLock fdLock = new ReentrantReadWriteLock();
    private final Deque<FileDescriptorHandle> receivedFds = new ConcurrentLinkedDeque<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    FdSocket(UnixSocketChannel channel) {
        this.channel = channel;
        this.fd = channel.getFD();
    }

    /** Connects to the unix stream socket at {@code path} (tests playing CRIU, clients of a daemon). */
    public static FdSocket connect(Path path) throws IOException {
        try {
            UnixSocketChannel channel = UnixSocketChannel.open(new UnixSocketAddress(path.toAbsolutePath().toFile()));
            channel.configureBlocking(true);
            return new FdSocket(channel);
        } catch (IOException e) {
            throw new IOException("connect to unix socket " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads exactly {@code len} bytes into {@code dst}.
     *
     * @return {@code len}, or -1 if the peer closed before the first byte (a clean end of stream)
     * @throws EOFException if the peer closed after some but not all of the bytes
     */
    public int readFully(byte[] dst, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, dst.length);
        synchronized (readMonitor) {
            int done = 0;
            while (done < len) {
                int n = receive(Math.min(len - done, IO_CHUNK));
                if (n == 0) {
                    if (done == 0) {
                        return -1;
                    }
                    throw new EOFException("unix socket closed by peer after " + done + " of " + len + " bytes");
                }
                readBuffer.get(0, dst, off + done, n);
                done += n;
            }
            return len;
        }
    }

    /**
     * Reads exactly one byte and returns the file descriptor that came with it (or earlier); the caller owns it.
     *
     * @throws EOFException if the peer closed instead
     * @throws FdMissingException if the byte came without a descriptor
     */
    public FileDescriptorHandle receiveFd() throws IOException {
        synchronized (readMonitor) {
            int n = receive(1);
            if (n == 0) {
                throw new EOFException("unix socket closed by peer (expected: 1 byte carrying a file descriptor)");
            }
            FileDescriptorHandle handle = receivedFds.pollFirst();
            if (handle == null) {
                throw new FdMissingException(String.format(
                        "received byte 0x%02x without a file descriptor (expected: 1 byte with SCM_RIGHTS and one fd)",
                        readBuffer.get(0) & 0xff));
            }
            return handle;
        }
    }

    /** Writes all of {@code b}, blocking while the socket buffer is full. */
    public void write(byte[] b) throws IOException {
        synchronized (writeMonitor) {
            int done = 0;
            while (done < b.length) {
                int chunk = Math.min(b.length - done, IO_CHUNK);
                writeBuffer.clear();
                writeBuffer.put(b, done, chunk);
                done += send(chunk, null);
            }
        }
    }

    /** Sends one byte {@code 0x00} carrying {@code handle}'s fd (SCM_RIGHTS), as CRIU does. The caller still owns {@code handle}. */
    public void sendFd(FileDescriptorHandle handle) throws IOException {
        synchronized (writeMonitor) {
            writeBuffer.clear();
            writeBuffer.put(0, (byte) 0);
            send(1, handle);
        }
    }

    /** The peer's pid, uid and gid (SO_PEERCRED). */
    public PeerCredentials peerCredentials() throws IOException {
        fdLock.readLock().lock();
        try {
            ensureOpen();
            Credentials c = channel.getOption(UnixSocketOptions.SO_PEERCRED);
            return new PeerCredentials(c.getPid(), c.getUid(), c.getGid());
        } finally {
            fdLock.readLock().unlock();
        }
    }

    /** Bytes received and not read yet (FIONREAD). */
    public int available() throws IOException {
        fdLock.readLock().lock();
        try {
            ensureOpen();
            IntByReference count = new IntByReference();
            if (NativeAccess.LIBC.ioctl(fd, LibC.FIONREAD, count) < 0) {
                throw new PosixException("ioctl(FIONREAD)", NativeAccess.libcErrno(), "fd " + fd);
            }
            return count.getValue();
        } finally {
            fdLock.readLock().unlock();
        }
    }

    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * Shuts the socket down (waking blocked reads and writes), closes it and every fd still queued. Idempotent.
     */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        NativeAccess.LIBC.shutdown(fd, LibC.SHUT_RDWR); // wakes a blocked recvmsg/sendmsg before the fd goes away
        fdLock.writeLock().lock();
        try {
            FileDescriptorHandle queued;
            while ((queued = receivedFds.pollFirst()) != null) {
                queued.closeQuietly();
            }
            channel.close();
        } finally {
            fdLock.writeLock().unlock();
        }
    }

    /** One recvmsg of at most {@code len} bytes into {@link #readBuffer} at 0; queues any fds; returns 0 at EOF. */
    private int receive(int len) throws IOException {
        fdLock.readLock().lock();
        try {
            ensureOpen();
            readBuffer.clear().limit(len);
            // Order matters: jnr keeps the iovec only in native memory. It shares a memory magazine with the
            // msghdr or with the control buffer allocated after it, and both stay reachable until the fence.
            MsgHdr msg = NativeAccess.POSIX.allocateMsgHdr();
            msg.setIov(new ByteBuffer[] {readBuffer});
            CmsgHdr control = msg.allocateControl(Integer.BYTES * MAX_FDS_PER_READ);
            int n;
            while ((n = NativeAccess.POSIX.recvmsg(fd, msg, MSG_CMSG_CLOEXEC)) < 0) {
                checkRetry("recvmsg");
            }
            boolean truncated = (msg.getFlags() & MSG_CTRUNC) != 0;
            queueFds(msg);
            Reference.reachabilityFence(control);
            Reference.reachabilityFence(msg);
            if (truncated) {
                throw new FdMissingException("more than " + MAX_FDS_PER_READ
                        + " file descriptors on one message; the kernel closed the rest (expected: one fd per byte)");
            }
            if (n == 0) {
                ensureOpen(); // EOF caused by our own close() is a close, not the peer's end of stream
            }
            return n;
        } finally {
            fdLock.readLock().unlock();
        }
    }

    private void queueFds(MsgHdr msg) {
        for (CmsgHdr c : msg.getControls()) {
            if (c.getLevel() != SOL_SOCKET || c.getType() != SCM_RIGHTS) {
                continue;
            }
            ByteBuffer data = c.getData();
            if (data == null) {
                continue;
            }
            data.order(ByteOrder.nativeOrder());
            while (data.remaining() >= Integer.BYTES) {
                receivedFds.addLast(new FileDescriptorHandle(data.getInt()));
            }
        }
    }

    /**
     * Sends {@code len} bytes from {@link #writeBuffer} at 0 and returns how many went out: a plain write, or one
     * sendmsg when {@code passed} must ride along. SIGPIPE is ignored by the JVM, so a closed peer gives EPIPE.
     */
    private int send(int len, FileDescriptorHandle passed) throws IOException {
        fdLock.readLock().lock();
        try {
            ensureOpen();
            ByteBuffer out = writeBuffer.duplicate();
            out.clear().limit(len);
            int n;
            if (passed == null) {
                while ((n = NativeAccess.POSIX.write(fd, out, len)) < 0) {
                    checkRetry("write");
                }
                return n;
            }
            // The same reachability argument as in receive(): iovec first, then the control buffer.
            MsgHdr msg = NativeAccess.POSIX.allocateMsgHdr();
            msg.setIov(new ByteBuffer[] {out});
            CmsgHdr control = msg.allocateControl(Integer.BYTES);
            control.setLevel(SOL_SOCKET);
            control.setType(SCM_RIGHTS);
            ByteBuffer data = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.nativeOrder());
            data.putInt(0, passed.fd());
            control.setData(data);
            while ((n = NativeAccess.POSIX.sendmsg(fd, msg, MSG_NOSIGNAL)) < 0) {
                checkRetry("sendmsg");
            }
            Reference.reachabilityFence(control);
            Reference.reachabilityFence(msg);
            return n;
        } finally {
            fdLock.readLock().unlock();
        }
    }

    /** After a failed call: returns to retry on EINTR, otherwise throws. */
    private void checkRetry(String call) throws IOException {
        int errno = NativeAccess.posixErrno();
        if (errno != PosixException.EINTR) {
            ensureOpen();
            throw new PosixException(call, errno, "fd " + fd);
        }
    }

    private void ensureOpen() throws AsynchronousCloseException {
        if (closed.get()) {
            throw new AsynchronousCloseException();
        }
    }

    @Override
    public String toString() {
        return "FdSocket[fd " + fd + (closed.get() ? ", closed" : "") + "]";
    }
}
