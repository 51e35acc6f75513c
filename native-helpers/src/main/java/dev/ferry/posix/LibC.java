package dev.ferry.posix;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The libc calls jnr-posix 3.2.8 does not bind (or binds without the flags ferry needs). Public only because
 * jnr-ffi generates its implementation in another class loader; not for use outside this package.
 */
public interface LibC {

    int POLLIN = 0x001;
    int POLLOUT = 0x004;
    int POLLERR = 0x008;
    int POLLHUP = 0x010;
    int POLLNVAL = 0x020;
    int F_SETPIPE_SZ = 1031;
    int F_GETPIPE_SZ = 1032;
    int O_CLOEXEC = 0x80000;
    int O_NONBLOCK = 0x800;
    int O_RDWR = 0x2;
    int O_NOCTTY = 0x100;
    int SHUT_RDWR = 2;
    long FIONREAD = 0x541B;
    int MADV_POPULATE_WRITE = 23;
    int SPLICE_F_NONBLOCK = 0x02;

    int poll(Pointer fds, int nfds, int timeoutMillis);

    @Variadic(fixedCount = 2)
    int fcntl(int fd, int cmd, int arg);

    int pipe2(@Out int[] fds, int flags);

    int shutdown(int fd, int how);

    int madvise(long address, long length, int advice);

    /** libc's memcpy: as fast at any alignment (the JDK's Unsafe.copyMemory copies 2 bytes at a time at odd ones). */
    @IgnoreError
    long memcpy(long destination, long source, long length);
    /**
     * {@code vmsplice(2)}; {@code iov} is an array of {@code struct iovec { void *base; size_t len; }}, two longs
     * each, which is its layout on the 64-bit Linux ferry runs on.
     */
    @ssize_t long vmsplice(int fd, @In long[] iov, @size_t long nrSegs, int flags);

    @Variadic(fixedCount = 2)
    int ioctl(int fd, long request, @Out IntByReference arg);

    int posix_openpt(int flags);

    int grantpt(int fd);

    int unlockpt(int fd);

    /** Returns 0 or an errno value (not -1): {@code ptsname_r} reports its error as its result. */
    int ptsname_r(int fd, @Out byte[] buf, @size_t long length);
}
