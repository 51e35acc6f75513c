package dev.ferry.posix;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.byref.IntByReference;

/**
 * The libc calls jnr-posix 3.2.8 does not bind (or binds without the flags ferry needs). Public only because
 * jnr-ffi generates its implementation in another class loader; not for use outside this package.
 */
public interface LibC {

    int POLLIN = 0x001;
    int POLLERR = 0x008;
    int POLLHUP = 0x010;
    int POLLNVAL = 0x020;
    int F_SETPIPE_SZ = 1031;
    int F_GETPIPE_SZ = 1032;
    int O_CLOEXEC = 0x80000;
    int O_NONBLOCK = 0x800;
    int SHUT_RDWR = 2;
    long FIONREAD = 0x541B;
    int MADV_POPULATE_WRITE = 23;

    int poll(Pointer fds, int nfds, int timeoutMillis);

    @Variadic(fixedCount = 2)
    int fcntl(int fd, int cmd, int arg);

    int pipe2(@Out int[] fds, int flags);

    int shutdown(int fd, int how);

    int madvise(long address, long length, int advice);

    @Variadic(fixedCount = 2)
    int ioctl(int fd, long request, @Out IntByReference arg);
}
