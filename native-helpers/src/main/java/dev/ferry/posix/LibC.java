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

    /** posix_spawn's attribute flag: the child starts with the signal mask in the attributes. */
    short POSIX_SPAWN_SETSIGMASK = 0x08;
    /** Bytes that hold a glibc {@code posix_spawn_file_actions_t} (80 on x86-64), with room to spare. */
    int SPAWN_FILE_ACTIONS_SIZE = 256;
    /** Bytes that hold a glibc {@code posix_spawnattr_t} (336 on x86-64), with room to spare. */
    int SPAWN_ATTR_SIZE = 512;
    /** Bytes of a glibc {@code sigset_t}. */
    int SIGSET_SIZE = 128;

    int posix_spawn_file_actions_init(Pointer actions);

    int posix_spawn_file_actions_destroy(Pointer actions);

    int posix_spawn_file_actions_adddup2(Pointer actions, int fd, int newFd);

    int posix_spawn_file_actions_addclose(Pointer actions, int fd);

    int posix_spawn_file_actions_addopen(Pointer actions, int fd, String path, int flags, int mode);

    /** glibc >= 2.34: closes every fd >= {@code from} in the child, whatever this process opened meanwhile. */
    int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    int posix_spawnattr_init(Pointer attr);

    int posix_spawnattr_destroy(Pointer attr);

    int posix_spawnattr_setflags(Pointer attr, short flags);

    int posix_spawnattr_setsigmask(Pointer attr, Pointer sigset);

    int sigemptyset(Pointer sigset);

    /**
     * Returns 0 or an errno value (posix_spawn reports its error as its result, errno is not set); {@code argv} and
     * {@code envp} end with a null element.
     */
    int posix_spawnp(@Out IntByReference pid, String file, Pointer actions, Pointer attr, @In String[] argv,
                     @In String[] envp);

    long SYS_PIDFD_OPEN = 434;
    long SYS_PIDFD_GETFD = 438;
    int IPPROTO_TCP = 6;
    int TCP_REPAIR = 19;

    /**
     * {@code syscall(2)} with three arguments (pidfd_open, pidfd_getfd); -1 and errno on failure. Longs, not ints:
     * glibc reads each variadic argument as a long, and an int leaves the upper half of the register undefined.
     */
    @Variadic(fixedCount = 1)
    long syscall(long number, long a, long b, long c);

    int getsockopt(int fd, int level, int name, @Out int[] value, @In @Out int[] length);

    int setsockopt(int fd, int level, int name, @In int[] value, int length);
}
