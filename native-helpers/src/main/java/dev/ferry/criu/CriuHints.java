package dev.ferry.criu;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Advice for the classic CRIU failures, recognised in the lines of its log: what the line means for a
 * migration and what to do about it. Returns text to append to an error message ("" when nothing matched).
 */
public final class CriuHints {

    private record Hint(String needle, String needle2, String advice) { }

    private static final List<Hint> HINTS = List.of(
            new Hint("can't fork for", "file exists", "the PID is still in use on this node: start the workload in"
                    + " its own PID namespace (unshare -pf) so that a restore never collides with a PID in use"),
            new Hint("half of stream unix connection", null, "the tree holds one end of a unix stream connection"
                    + " whose other end is outside it: dump the common parent, so both ends move together"),
            new Hint("external socket is used", null, "the tree uses a unix socket whose peer is outside it:"
                    + " add --ext-unix-sk"),
            new Hint("consider using --tcp-established", null, "the tree holds established TCP connections:"
                    + " add --tcp-established (on dump and restore)"),
            new Hint("is not a session leader", null, "the root process is not a session leader: start it with"
                    + " setsid, or add --shell-job"),
            new Hint("no set", "found", "a task of the tree is in other cgroups than the rest: start the whole"
                    + " tree in its cgroup, or add --manage-cgroups ignore"),
            new Hint("can't connect inet socket back", null, "a TCP connection could not be re-created here: the"
                    + " local address must exist on this node before the restore and the old connection must be gone"),
            new Hint("pidfile", "file exists", "the pidfile already exists: remove it, or pass another --pidfile"),
            new Hint("can't get /proc fd", null, "CRIU's parasite could not mount a private /proc: another dump"
                    + " of a process in a foreign PID namespace ran at the same moment on this mount namespace"
                    + " (both use the directory /crtools-proc); retry the dump"),
            new Hint("unexpected rt vdso area bounds", null, "this CRIU is too old for the kernel: run"
                    + " scripts/install-criu to get CRIU >= 4.2"));

    private CriuHints() {
    }

    /**
     * Whether a failed dump failed for a reason that goes away by itself: CRIU's parasite mounts a private
     * /proc at the fixed path {@code /crtools-proc} when the task's /proc belongs to another PID namespace,
     * so two dumps running at once in one mount namespace can collide there (mkdir gives EEXIST, -17). CRIU
     * rolled the task back; the same dump a moment later succeeds.
     */
    public static boolean isTransientDumpFailure(List<String> logLines) {
        boolean mkdirExists = false;
        boolean noProcFd = false;
        for (String line : logLines) {
            String l = line.toLowerCase(Locale.ROOT);
            mkdirExists |= l.contains("can't create a directory (-17)");
            noProcFd |= l.contains("can't get /proc fd");
        }
        return mkdirExists && noProcFd;
    }

    public static String advice(List<String> logLines) {
        Set<String> found = new LinkedHashSet<>();
        for (String line : logLines) {
            String l = line.toLowerCase(Locale.ROOT);
            for (Hint h : HINTS) {
                if (l.contains(h.needle()) && (h.needle2() == null || l.contains(h.needle2()))) {
                    found.add(h.advice());
                }
            }
        }
        return found.isEmpty() ? "" : "; hint: " + String.join("; ", found);
    }
}
