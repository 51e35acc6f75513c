package dev.ferry.posix;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * A listening AF_UNIX SOCK_STREAM socket bound to a path, such as CRIU's {@code streamer-capture.sock}. The
 * listener owns its socket, a wake-up pipe and the path: {@link #close()} releases all three and unlinks the path.
 * Each accepted {@link FdSocket} has its own owner (the caller of {@link #accept}).
 *
 * <p>Thread-safety: one thread accepts at a time; {@link #close()} may come from any thread and makes a waiting
 * {@link #accept} throw {@link AsynchronousCloseException} at once.
 */
public final class UnixListener implements Closeable {

    /** {@code sizeof(sun_path)} is 108 bytes including the terminating NUL; longer paths are silently cut by CRIU. */
    public static final int MAX_PATH_BYTES = 107;
    private static final int BACKLOG = 16;
    private static final int POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

    private final Path path;
    private final UnixServerSocketChannel channel;
    private final int fd;
    private final FileDescriptorHandle wakeRead;
    private final FileDescriptorHandle wakeWrite;
    private final Pointer pollFds;
    private final ReentrantLock acceptLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();

    private UnixListener(Path path, UnixServerSocketChannel channel, FileDescriptorHandle[] wake) {
        this.path = path;
        this.channel = channel;
        this.fd = channel.getFD();
        this.wakeRead = wake[0];
        this.wakeWrite = wake[1];
        this.pollFds = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), 2 * POLLFD_SIZE);
    }

    /**
     * Unlinks a stale file at {@code path} (not a directory), binds a unix stream socket there and listens.
     *
     * @throws IOException if the path is too long for {@code sun_path}, a directory is in the way, or bind fails
     */
    public static UnixListener bind(Path path) throws IOException {
        Path absolute = path.toAbsolutePath();
        int length = absolute.toString().getBytes(StandardCharsets.UTF_8).length;
        if (length > MAX_PATH_BYTES) {
            throw new IOException("unix socket path: " + length + " bytes (expected: <= " + MAX_PATH_BYTES
                    + "): " + absolute + "; use a shorter work directory");
        }
        if (Files.isDirectory(absolute, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("unix socket path " + absolute + " is a directory (expected: nothing or a stale socket)");
        }
        Files.deleteIfExists(absolute);
        FileDescriptorHandle[] wake = Pipes.pipe();
        UnixServerSocketChannel channel = null;
        try {
            channel = UnixServerSocketChannel.open();
            channel.socket().bind(new UnixSocketAddress(absolute.toFile()), BACKLOG);
            return new UnixListener(absolute, channel, wake);
        } catch (IOException | RuntimeException e) {
            wake[0].closeQuietly();
            wake[1].closeQuietly();
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof IOException && !(e instanceof PosixException)) {
                throw new IOException("bind unix socket " + absolute + ": " + e.getMessage(), e);
            }
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /**
     * Waits up to {@code timeout} for one connection (poll-based) and returns it; the caller owns the socket.
     *
     * @throws TimeoutException if nobody connected within the timeout
     * @throws AsynchronousCloseException if the listener is or gets closed
     */
    public FdSocket accept(Duration timeout) throws IOException, TimeoutException {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        acceptLock.lock();
        try {
            while (true) {
                if (closed.get()) {
                    throw new AsynchronousCloseException();
                }
                long remainingMillis = (deadline - System.nanoTime() + 999_999) / 1_000_000;
                int ready = poll((int) Math.max(0, Math.min(Integer.MAX_VALUE, remainingMillis)));
                if (closed.get()) {
                    throw new AsynchronousCloseException();
                }
                if (ready > 0) {
                    short revents = pollFds.getShort(6);
                    if ((revents & LibC.POLLIN) != 0) {
                        UnixSocketChannel client = channel.accept();
                        if (client != null) {
                            client.configureBlocking(true);
                            return new FdSocket(client);
                        }
                    } else if ((revents & (LibC.POLLERR | LibC.POLLNVAL)) != 0) {
                        throw new IOException("poll on unix socket " + path + ": revents 0x" + Integer.toHexString(revents));
                    }
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw new TimeoutException("nobody connected to " + path + " within " + timeout);
                }
            }
        } finally {
            acceptLock.unlock();
        }
    }

    private int poll(int timeoutMillis) throws PosixException {
        pollFds.putInt(0, fd);
        pollFds.putShort(4, (short) LibC.POLLIN);
        pollFds.putShort(6, (short) 0);
        pollFds.putInt(POLLFD_SIZE, wakeRead.fd());
        pollFds.putShort(POLLFD_SIZE + 4, (short) LibC.POLLIN);
        pollFds.putShort(POLLFD_SIZE + 6, (short) 0);
        int ready = NativeAccess.LIBC.poll(pollFds, 2, timeoutMillis);
        if (ready < 0) {
            int errno = NativeAccess.libcErrno();
            if (errno == PosixException.EINTR) {
                return 0;
            }
            throw new PosixException("poll", errno, "unix socket " + path);
        }
        return ready;
    }

    /** Wakes a waiting {@link #accept}, closes the socket and the wake-up pipe, and unlinks the path. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        NativeAccess.POSIX.write(wakeWrite.fd(), new byte[] {1}, 1);
        acceptLock.lock(); // the acceptor leaves at once: it was woken and sees `closed`
        try {
            IOException failure = null;
            try {
                channel.close();
            } catch (IOException e) {
                failure = e;
            }
            wakeRead.closeQuietly();
            wakeWrite.closeQuietly();
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            acceptLock.unlock();
        }
    }

    @Override
    public String toString() {
        return "UnixListener[" + path + (closed.get() ? ", closed" : "") + "]";
    }
}
