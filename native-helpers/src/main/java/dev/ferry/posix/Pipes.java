package dev.ferry.posix;

/** Anonymous pipes: creation with O_CLOEXEC and pipe capacity (F_SETPIPE_SZ). */
public final class Pipes {

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
}
