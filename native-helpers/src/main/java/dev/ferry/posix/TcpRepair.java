package dev.ferry.posix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Takes the TCP sockets of a process tree out of repair mode ({@code TCP_REPAIR}), through copies of their
 * descriptors ({@code pidfd_getfd}, Linux >= 5.6, root).
 *
 * <p>Why: {@code criu dump --tcp-established} puts every established connection of the tree in repair mode and
 * undoes it when it rolls back. CRIU 4.2 forgets that when a post-copy dump fails after its post-dump action (the
 * lazy transfer fails): it resumes the tasks with their sockets still in repair mode, where a blocked
 * {@code recv} returns 0 at once and the application closes the connection (seen as a reset on the client).
 * Called while the tasks are still frozen, before CRIU is made to fail, this does what CRIU's rollback would
 * ({@code TCP_REPAIR_OFF}). Sockets not in repair mode are left alone: turning it off would also clear their
 * {@code SO_REUSEADDR}.
 */
public final class TcpRepair {

    private TcpRepair() {
    }

    /**
     * Turns repair mode off on every TCP socket in repair mode held by {@code pid} or a descendant; returns how many.
     *
     * @throws PosixException if a socket in repair mode could not be taken out of it
     */
    public static int release(long pid) throws IOException {
        List<Long> tree = new ArrayList<>();
        tree.add(pid);
        ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(d -> tree.add(d.pid())));
        Set<String> seen = new HashSet<>();
        int released = 0;
        for (long p : tree) {
            int pidfd = (int) NativeAccess.LIBC.syscall(LibC.SYS_PIDFD_OPEN, p, 0, 0);
            if (pidfd < 0) {
                continue; // gone meanwhile
            }
            try {
                for (int fd : sockets(p, seen)) {
                    released += releaseOne(pidfd, p, fd);
                }
            } finally {
                NativeAccess.POSIX.close(pidfd);
            }
        }
        return released;
    }

    /** The descriptors of {@code pid} that are sockets not yet seen in the tree (a socket may be in many tasks). */
    private static List<Integer> sockets(long pid, Set<String> seen) {
        List<Integer> fds = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path link : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(link).toString();
                    if (target.startsWith("socket:[") && seen.add(target)) {
                        fds.add(Integer.parseInt(link.getFileName().toString()));
                    }
                } catch (IOException | NumberFormatException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            // the process is gone
        }
        return fds;
    }

    private static int releaseOne(int pidfd, long pid, int fd) throws PosixException {
        int copy = (int) NativeAccess.LIBC.syscall(LibC.SYS_PIDFD_GETFD, pidfd, fd, 0);
        if (copy < 0) {
            return 0; // closed meanwhile
        }
        try {
            int[] value = new int[1];
            int[] length = {4};
            int rc = NativeAccess.LIBC.getsockopt(copy, LibC.IPPROTO_TCP, LibC.TCP_REPAIR, value, length);
            if (rc < 0 || value[0] == 0) {
                return 0; // not TCP (EOPNOTSUPP), or not in repair mode
            }
            if (NativeAccess.LIBC.setsockopt(copy, LibC.IPPROTO_TCP, LibC.TCP_REPAIR, new int[] {0}, 4) < 0) {
                throw new PosixException("setsockopt(TCP_REPAIR, off)", NativeAccess.libcErrno(), "fd " + fd + " of pid " + pid);
            }
            return 1;
        } finally {
            NativeAccess.POSIX.close(copy);
        }
    }
}
