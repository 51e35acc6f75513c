package dev.ferry.posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * A new Unix98 pseudo-terminal pair whose master this process holds: {@code posix_openpt}, {@code grantpt},
 * {@code unlockpt}, {@code ptsname_r}. The slave is only named ({@link #slave()}), never opened here, so this
 * process never takes the terminal as its controlling terminal; whoever should run on it opens the path.
 *
 * <p>Ownership: the caller owns the master fd (O_CLOEXEC, O_NOCTTY) and must {@link #close()} it. While the master
 * is open, the slave's processes can write to it; once it is closed they read EOF and their writes fail with EIO,
 * and a session that has the slave as its controlling terminal is sent SIGHUP.
 *
 * <p>Thread-safety: none. One thread reads and closes: closing the fd while another thread polls it could make
 * that thread read whatever file next gets the same fd number, so other threads ask the reading thread to stop.
 */
public final class PseudoTerminal implements java.io.Closeable {

    private static final int POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }
    private static final int EIO = 5;
    /** A value {@link #read} returns when nothing came within its wait. */
    public static final int NOTHING = 0;
    /** A value {@link #read} returns once no process has the slave open any more (or the master was closed). */
    public static final int HANGUP = -1;

    private final FileDescriptorHandle master;
    private final Path slave;
    private final Pointer pollFd;

    private PseudoTerminal(FileDescriptorHandle master, Path slave) {
        this.master = master;
        this.slave = slave;
        this.pollFd = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), POLLFD_SIZE);
    }

    /** Opens a new pair (master O_RDWR, O_NOCTTY, O_CLOEXEC), unlocked, its slave ready to be opened. */
    public static PseudoTerminal open() throws PosixException {
        int fd = NativeAccess.LIBC.posix_openpt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        if (fd < 0) {
            throw new PosixException("posix_openpt", NativeAccess.libcErrno(), "/dev/ptmx");
        }
        FileDescriptorHandle master = new FileDescriptorHandle(fd);
        try {
            if (NativeAccess.LIBC.grantpt(fd) < 0) {
                throw new PosixException("grantpt", NativeAccess.libcErrno(), master.toString());
            }
            if (NativeAccess.LIBC.unlockpt(fd) < 0) {
                throw new PosixException("unlockpt", NativeAccess.libcErrno(), master.toString());
            }
            byte[] name = new byte[128];
            int err = NativeAccess.LIBC.ptsname_r(fd, name, name.length);
            if (err != 0) {
                throw new PosixException("ptsname_r", err, master.toString());
            }
            int end = 0;
            while (end < name.length && name[end] != 0) {
                end++;
            }
            return new PseudoTerminal(master, Path.of(new String(name, 0, end, StandardCharsets.US_ASCII)));
        } catch (PosixException | RuntimeException e) {
            master.closeQuietly();
            throw e;
        }
    }

    /** The slave's path, {@code /dev/pts/N}. */
    public Path slave() {
        return slave;
    }

    public boolean isOpen() {
        return master.isOpen();
    }

    /**
     * Waits up to {@code waitMillis} for output on the terminal and reads what there is into {@code buf}. Returns
     * the number of bytes read, {@link #NOTHING} if none came in time, or {@link #HANGUP} if no process has the
     * slave open and everything it wrote has been read (or this terminal was closed). Before any process opened
     * the slave the kernel reports a hang-up too: callers decide when a hang-up means the end.
     */
    public int read(byte[] buf, int waitMillis) throws PosixException {
        if (!master.isOpen()) {
            return HANGUP;
        }
        pollFd.putInt(0, master.fd());
        pollFd.putShort(4, (short) LibC.POLLIN);
        pollFd.putShort(6, (short) 0);
        int ready = NativeAccess.LIBC.poll(pollFd, 1, waitMillis);
        if (ready < 0) {
            int errno = NativeAccess.libcErrno();
            if (errno == PosixException.EINTR) {
                return NOTHING;
            }
            throw new PosixException("poll", errno, "pty master " + master);
        }
        if (ready == 0) {
            return NOTHING;
        }
        short revents = pollFd.getShort(6);
        if ((revents & LibC.POLLNVAL) != 0 || !master.isOpen()) {
            return HANGUP;
        }
        if ((revents & LibC.POLLIN) == 0) {
            return HANGUP; // POLLHUP alone: no slave open and nothing left to read
        }
        int n = NativeAccess.POSIX.read(master.fd(), buf, buf.length);
        if (n > 0) {
            return n;
        }
        int errno = n == 0 ? 0 : NativeAccess.posixErrno();
        if (n == 0 || errno == EIO) {
            return HANGUP; // Linux reports the last slave's close as EIO on the master
        }
        if (errno == PosixException.EINTR || errno == PosixException.EAGAIN) {
            return NOTHING;
        }
        throw new PosixException("read", errno, "pty master " + master);
    }

    /** Closes the master once; the slave's processes then see a hang-up. */
    @Override
    public void close() throws IOException {
        master.close();
    }

    @Override
    public String toString() {
        return "pty " + slave + " (master " + master + ")";
    }
}
