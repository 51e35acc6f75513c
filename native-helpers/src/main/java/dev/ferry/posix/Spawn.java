package dev.ferry.posix;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.byref.IntByReference;

/**
 * Starts a program with descriptors of this process at numbers of the child's choosing ({@code posix_spawnp} with
 * file actions), which the JDK cannot do: CRIU takes sockets that way ({@code criu swrk 3},
 * {@code --ps-socket 3}).
 *
 * <p>The child gets exactly: stdin {@code /dev/null}, stdout and stderr appended to one file, the descriptors asked
 * for, and an empty signal mask. Every other descriptor is closed in the child by
 * {@code posix_spawn_file_actions_addclosefrom_np} (glibc >= 2.34): the JVM opens most of its files without
 * {@code O_CLOEXEC}, and a list of them taken beforehand would miss what other threads open meanwhile.
 * jnr-posix's own {@code posix_spawnp} has no closefrom, so this binds glibc's calls directly ({@link LibC}); one
 * close action instead of one per open fd also makes a spawn 4-5 times cheaper here.
 */
public final class Spawn {

    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0100;
    private static final int O_APPEND = 02000;

    private Spawn() {
    }

    /**
     * Starts {@code argv} ({@code argv[0]} looked up in PATH unless it holds a '/') with this process's environment.
     *
     * @param output  file that takes the child's stdout and stderr, created 0644 if missing, appended to
     * @param inherit child descriptor number (>= 3) → descriptor of this process to put there
     * @throws PosixException if the program could not be started
     */
    public static ChildProcess start(List<String> argv, Path output, Map<Integer, FileDescriptorHandle> inherit)
            throws IOException {
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("argv is empty (expected: the program, then its arguments)");
        }
        for (int target : inherit.keySet()) {
            if (target < 3) {
                throw new IllegalArgumentException("child fd " + target + " (expected: >= 3; 0-2 are /dev/null and "
                        + output + ")");
            }
        }
        int top = inherit.keySet().stream().max(Integer::compare).orElse(2);
        List<Map.Entry<Integer, FileDescriptorHandle>> wanted = new ArrayList<>(inherit.entrySet());
        int spare = Math.max(top, wanted.stream().mapToInt(e -> e.getValue().fd()).max().orElse(2)) + 1;
        LibC libc = NativeAccess.LIBC;
        jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(libc);
        Pointer actions = Memory.allocateDirect(runtime, LibC.SPAWN_FILE_ACTIONS_SIZE);
        Pointer attr = Memory.allocateDirect(runtime, LibC.SPAWN_ATTR_SIZE);
        Pointer noSignals = Memory.allocateDirect(runtime, LibC.SIGSET_SIZE);
        check("posix_spawn_file_actions_init", libc.posix_spawn_file_actions_init(actions));
        try {
            check("posix_spawnattr_init", libc.posix_spawnattr_init(attr));
            try {
                // the calling JVM thread blocks some signals (SIGQUIT); the child starts with none blocked
                check("sigemptyset", libc.sigemptyset(noSignals) == 0 ? 0 : NativeAccess.libcErrno());
                check("posix_spawnattr_setsigmask", libc.posix_spawnattr_setsigmask(attr, noSignals));
                check("posix_spawnattr_setflags", libc.posix_spawnattr_setflags(attr, LibC.POSIX_SPAWN_SETSIGMASK));
                check("addopen", libc.posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0));
                check("addopen", libc.posix_spawn_file_actions_addopen(actions, 1, output.toString(),
                        O_WRONLY | O_CREAT | O_APPEND, 0644));
                check("adddup2", libc.posix_spawn_file_actions_adddup2(actions, 1, 2));
                // through spare numbers first: no source is overwritten by an earlier target, and dup2 onto a
                // different number clears O_CLOEXEC (dup2(fd, fd) would keep it)
                for (int k = 0; k < wanted.size(); k++) {
                    check("adddup2", libc.posix_spawn_file_actions_adddup2(actions, wanted.get(k).getValue().fd(),
                            spare + k));
                }
                for (int k = 0; k < wanted.size(); k++) {
                    check("adddup2", libc.posix_spawn_file_actions_adddup2(actions, spare + k, wanted.get(k).getKey()));
                }
                // everything else, spares included: the JVM's fds need not be CLOEXEC
                for (int fd = 3; fd <= top; fd++) {
                    if (!inherit.containsKey(fd)) {
                        check("addclose", libc.posix_spawn_file_actions_addclose(actions, fd));
                    }
                }
                check("addclosefrom_np", libc.posix_spawn_file_actions_addclosefrom_np(actions, top + 1));
                String[] args = argv.toArray(new String[argv.size() + 1]);
                Map<String, String> environment = System.getenv();
                String[] env = new String[environment.size() + 1];
                int n = 0;
                for (Map.Entry<String, String> e : environment.entrySet()) {
                    env[n++] = e.getKey() + "=" + e.getValue();
                }
                IntByReference pid = new IntByReference();
                int error = libc.posix_spawnp(pid, argv.get(0), actions, attr, args, env);
                if (error != 0) {
                    throw new PosixException("posix_spawnp", error, String.join(" ", argv) + " (expected: "
                            + argv.get(0) + " an executable file, " + output + " writable)");
                }
                return new ChildProcess(pid.getValue());
            } finally {
                libc.posix_spawnattr_destroy(attr);
            }
        } finally {
            libc.posix_spawn_file_actions_destroy(actions);
        }
    }

    private static void check(String call, int error) throws PosixException {
        if (error != 0) {
            throw new PosixException(call, error, "preparing posix_spawnp");
        }
    }
}
