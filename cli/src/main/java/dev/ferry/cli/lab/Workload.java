package dev.ferry.cli.lab;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A workload process tree running in a lab node, in its own PID namespace, started as
 * {@code nsenter --net=<node> setsid unshare --pid --fork setsid CMD...} with stdin from /dev/null
 * and stdout/stderr to a log file or /dev/null, never a pipe back to the JVM: a pipe whose reader is
 * not dumped kills the restored process with SIGPIPE, and ProcessBuilder closes every other fd.
 *
 * <p>The PID to dump is the host PID of the namespace's init, the only child of {@code unshare}:
 * its own session leader (the inner {@code setsid}), with no harness fds. {@code unshare
 * --kill-child} is not used because CRIU would restore its PDEATHSIG and kill the restored root.
 * A PID namespace init ignores SIGTERM, so {@link #kill()} sends SIGKILL.
 *
 * <p>The lab tracks the {@code unshare} process and registers the init's PID, so closing the lab
 * kills the tree if its owner did not.
 */
public final class Workload {

    /** How long to wait for the namespace's init to appear under {@code unshare}. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(10);

    private final String ns;
    private final Process unshare;
    private final long pid;
    private final long startTime;
    private final Path log;

    private Workload(String ns, Process unshare, long pid, long startTime, Path log) {
        this.ns = ns;
        this.unshare = unshare;
        this.pid = pid;
        this.startTime = startTime;
        this.log = log;
    }

    /**
     * Starts {@code command} in node {@code ns} in a new PID namespace.
     *
     * @param log file that receives the workload's stdout and stderr (appended), or null for /dev/null
     */
    public static Workload start(TwoNodeLab lab, String ns, List<String> command, Path log)
            throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("setsid", "unshare", "--pid", "--fork", "setsid"));
        full.addAll(command);
        ProcessBuilder builder = lab.inNode(ns, full)
                .directory(new File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        if (log == null) {
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        } else {
            builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectErrorStream(true);
        }
        builder.environment().remove("FERRY_RUN_DIR");
        Process unshare = lab.track(builder.start());

        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            List<Long> children = ProcFs.children(unshare.pid());
            if (!children.isEmpty()) {
                long pid = children.get(0);
                Optional<Long> start = ProcFs.startTime(pid);
                if (start.isPresent()) {
                    lab.register(pid);
                    return new Workload(ns, unshare, pid, start.get(), log);
                }
            }
            if (!unshare.isAlive()) {
                throw new IOException("workload " + command + " exited (code " + unshare.exitValue()
                        + ") before its PID namespace init appeared" + logTail(log));
            }
            if (System.nanoTime() > deadline) {
                unshare.destroyForcibly();
                throw new IOException("workload " + command + ": no child of unshare (pid " + unshare.pid()
                        + ") after " + START_TIMEOUT.toSeconds() + " s" + logTail(log));
            }
            Thread.sleep(5);
        }
    }

    private static String logTail(Path log) {
        return log == null ? "" : "; log " + log + ":\n" + LogTail.of(log, 20);
    }

    /** The host PID of the PID namespace's init: the PID to dump. */
    public long pid() {
        return pid;
    }

    /** The {@code unshare} process that parents the init (it exits when the init is dumped or killed). */
    public Process unshareProcess() {
        return unshare;
    }

    /** The node (network namespace) the workload was started in. */
    public String node() {
        return ns;
    }

    public Path log() {
        return log;
    }

    /** True while the original init runs (not dumped, killed or a zombie). */
    public boolean isRunning() {
        return ProcFs.isRunning(pid) && ProcFs.startTime(pid).map(t -> t == startTime).orElse(false);
    }

    /** Kills the tree by SIGKILL to the init (if it is still the same process) and the unshare parent. Idempotent. */
    public void kill() throws InterruptedException {
        ProcFs.kill(pid, startTime);
        unshare.destroyForcibly();
        ProcFs.awaitGone(pid, 5_000);
        unshare.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Override
    public String toString() {
        return "Workload[pid " + pid + " in " + ns + "]";
    }
}
