package dev.ferry.cli.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads what the lab needs about a process from {@code /proc}: its state letter, start time,
 * children, network namespace and resident memory. Every method treats a process
 * that vanished meanwhile as absent rather than failing.
 */
public final class ProcFs {

    private ProcFs() {
    }

    /**
     * The state letter from {@code /proc/PID/stat} ({@code R S D T t Z X ...}), or empty when the
     * process does not exist.
     */
    public static Optional<Character> state(long pid) {
        return statFields(pid).map(f -> f.get(0).charAt(0));
    }

    /** True when the process exists and is not a zombie (a zombie's PID is still taken but it no longer runs). */
    public static boolean isRunning(long pid) {
        Optional<Character> state = state(pid);
        return state.isPresent() && state.get() != 'Z' && state.get() != 'X';
    }

    /** The start time in clock ticks since boot (field 22), which tells a PID's owner apart from a later reuse. */
    public static Optional<Long> startTime(long pid) {
        return statFields(pid).map(f -> Long.parseLong(f.get(19)));
    }

    /** The PIDs listed in {@code /proc/PID/task/PID/children} (children of the main thread). */
    public static List<Long> children(long pid) {
        List<Long> result = new ArrayList<>();
        try {
            String text = Files.readString(Path.of("/proc", Long.toString(pid), "task", Long.toString(pid), "children"));
            for (String token : text.trim().split("\\s+")) {
                if (!token.isEmpty()) {
                    result.add(Long.parseLong(token));
                }
            }
        } catch (IOException e) {
            // gone
        }
        return result;
    }

    /** The inode of the process's network namespace, or empty when the process is gone. */
    public static Optional<Long> netNsInode(long pid) {
        return inode(Path.of("/proc", Long.toString(pid), "ns", "net"));
    }

    /** The inode of a file (following links), e.g. a netns bind mount under /run/netns. */
    public static Optional<Long> inode(Path path) {
        try {
            return Optional.of(((Number) Files.getAttribute(path, "unix:ino")).longValue());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    /** VmRSS in KiB, or -1 when the process is gone. */
    public static long rssKiB(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return -1;
    }

    /** The effective UID of this JVM, from /proc/self/status. */
    public static long effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }

    /** Sends SIGKILL to {@code pid} if it is still the process that started at {@code startTime}. */
    public static boolean kill(long pid, long startTime) {
        if (!startTime(pid).map(t -> t == startTime).orElse(false)) {
            return false;
        }
        return ProcessHandle.of(pid).map(ProcessHandle::destroyForcibly).orElse(false);
    }

    /** Waits until the process is gone or a zombie; returns false if it still runs after {@code millis}. */
    public static boolean awaitGone(long pid, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (isRunning(pid)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** The fields after the command name in /proc/PID/stat: index 0 is the state (field 3). */
    private static Optional<List<String>> statFields(long pid) {
        String stat;
        try {
            stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            return Optional.empty();
        }
        return Optional.of(List.of(stat.substring(close + 2).trim().split("\\s+")));
    }
}
