package dev.ferry.posix;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Owns one open file descriptor of this process, typically a pipe end received from CRIU. Whoever holds the
 * handle owns the fd and must {@link #close()} it; a {@link FileChannel} from {@link #openChannel} is a separate
 * open file description with its own owner, so the handle can be closed as soon as the channel is open.
 *
 * <p>Thread-safety: {@link #close()} is idempotent and safe from any thread; the rest is for the owner's thread.
 */
public final class FileDescriptorHandle implements java.io.Closeable {

    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0200000;
    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();

    FileDescriptorHandle(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("fd: " + fd + " (expected: >= 0)");
        }
        this.fd = fd;
    }

    /** Opens {@code dir} ({@code O_RDONLY | O_DIRECTORY | O_CLOEXEC}), e.g. to hand it to CRIU by number. */
    public static FileDescriptorHandle openDirectory(Path dir) throws PosixException {
        int fd = NativeAccess.POSIX.open(dir.toString(), O_RDONLY | O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new PosixException("open", NativeAccess.posixErrno(), dir + " (expected: a directory)");
        }
        return new FileDescriptorHandle(fd);
    }

    /** The raw descriptor number, valid until {@link #close()}. */
    public int fd() {
        return fd;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * Reopens the descriptor through {@code /proc/self/fd/N} as a blocking {@link FileChannel}, for reading or
     * for writing. The reopen yields a new open file description, so flags set on this fd (O_NONBLOCK) do not
     * carry over. The caller owns the channel.
     */
    public FileChannel openChannel(boolean write) throws IOException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
        return FileChannel.open(Path.of("/proc/self/fd/" + fd), write ? StandardOpenOption.WRITE : StandardOpenOption.READ);
    }

    /** Closes the descriptor once; later calls do nothing. */
    @Override
    public void close() throws IOException {
        if (closed.compareAndSet(false, true)) {
            if (NativeAccess.POSIX.close(fd) < 0) {
                int errno = NativeAccess.posixErrno();
                if (errno != PosixException.EINTR) { // after EINTR Linux has closed the fd anyway
                    throw new PosixException("close", errno, "fd " + fd);
                }
            }
        }
    }

    /** Closes without throwing, for cleanup paths that already carry a failure. */
    public void closeQuietly() {
        try {
            close();
        } catch (IOException ignored) {
            // nothing useful to add to the failure being handled
        }
    }

    @Override
    public String toString() {
        return "fd " + fd + (closed.get() ? " (closed)" : "");
    }
}
