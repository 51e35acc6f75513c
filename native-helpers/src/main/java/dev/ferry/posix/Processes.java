package dev.ferry.posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Processes by pid: liveness from {@code /proc} and signals. */
public final class Processes {

    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;

    private Processes() {
    }

    /**
     * True if {@code /proc/<pid>} exists and the process is neither a zombie nor dead (state Z or X). A dumped
     * task stays a zombie until its parent reaps it; restoring its pid before that fails, so callers wait on this.
     */
    public static boolean isAlive(long pid) {
        if (pid <= 0) {
            return false;
        }
        String stat;
        try {
            stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return Files.exists(Path.of("/proc", Long.toString(pid)));
        }
        // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
        int close = stat.lastIndexOf(')');
        if (close < 0 || close + 2 >= stat.length()) {
            return true;
        }
        char state = stat.charAt(close + 2);
        return state != 'Z' && state != 'X' && state != 'x';
    }

    /** Sends {@code signal} to {@code pid}; ESRCH (no such process) is reported as a {@link PosixException}. */
    public static void kill(long pid, int signal) throws PosixException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid: " + pid + " (expected: > 0; 0 and negative values signal groups)");
        }
        if (NativeAccess.POSIX.kill(pid, signal) < 0) {
            throw new PosixException("kill", NativeAccess.posixErrno(), "pid " + pid + " signal " + signal);
        }
    }
}
