package dev.ferry.restore;

import dev.ferry.criu.ActionScriptGate;
import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuLauncher;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.CriuSwrk;
import dev.ferry.criu.CriuWorkDir;
import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.criu.CriuRpc;
import dev.ferry.protocol.image.ImageSource;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs {@code criu restore --stream -d} and serves the images it asks for from an {@link ImageSource}.
 *
 * <p>One restore: a private work dir {@code <workRoot>/r-<id>} (0700) holds {@code streamer-serve.sock}; CRIU
 * connects once and a {@link ServeSession} thread answers its requests, with one thread per image being written.
 * The calling thread waits for CRIU, stops it (SIGTERM, then SIGKILL) only if it overstays the job's timeout, and
 * reads the restored pid from {@code restored.pid}. Afterwards the work dir keeps {@code restore.log},
 * {@code stats-restore}, {@code criu.out} and {@code restored.pid}; the socket is deleted.
 *
 * <p>A job with a {@link ResumeGate} runs CRIU with an {@link ActionScriptGate} on {@code post-restore}: a thread of
 * its own waits for the script's request and asks the gate, and a refusal makes CRIU kill the tree before it ran.
 * A post-copy restore ({@link #restoreLazy}) goes through a {@link CriuSwrk} instead, CRIU's RPC: no process start,
 * and the gate answers CRIU's {@code post-restore} notification on the caller's thread.
 *
 * <p>A {@code --shell-job} restore on an engine with {@link JobTerminals} runs CRIU with a new pseudo-terminal as
 * its stdin, the terminal CRIU gives a job whose terminal was outside its tree. After a successful restore the
 * terminal stays open, held by the {@link JobTerminals}, until the restored tree no longer has it open; after a
 * failed one it is closed before this method returns.
 *
 * <p>Ownership: each restore owns its CRIU process, threads and socket and ends them before returning; the source
 * stays the caller's. Thread-safety: an engine runs any number of restores at once, each on its caller's thread.
 */
public final class RestoreEngine {

    public static final String LOG_FILE = "restore.log";
    public static final String PID_FILE = "restored.pid";
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    private static final Duration THREAD_GRACE = Duration.ofSeconds(5);
    private static final String HELD_NOT_RESUMED = "the restored tree was held at post-restore and not resumed, so"
            + " CRIU killed it before it ran";
    private static final System.Logger LOG = System.getLogger(RestoreEngine.class.getName());

    private final CriuLauncher launcher;
    private final Path workRoot;
    private final JobTerminals terminals;

    public RestoreEngine(Criu criu, Path workRoot) {
        this(criu.launcher(), workRoot, null);
    }

    /** @param terminals where shell-job restores get their terminal; null to restore them without one */
    public RestoreEngine(Criu criu, Path workRoot, JobTerminals terminals) {
        this(criu.launcher(), workRoot, terminals);
    }

    /** With another way of starting CRIU, e.g. a scripted peer in tests. */
    public RestoreEngine(CriuLauncher launcher, Path workRoot) {
        this(launcher, workRoot, null);
    }

    /** With another way of starting CRIU, and terminals for shell jobs (null for none). */
    public RestoreEngine(CriuLauncher launcher, Path workRoot, JobTerminals terminals) {
        this.launcher = Objects.requireNonNull(launcher, "launcher");
        this.workRoot = Objects.requireNonNull(workRoot, "workRoot");
        this.terminals = terminals;
    }

    /**
     * Restores {@code job.snapshot()} from {@code source}; returns once CRIU exited 0 with the restored tree detached.
     *
     * @throws CriuException if CRIU failed or overstayed the timeout
     * @throws IOException if the restore could not be set up, or CRIU left no pid file
     */
    public RestoreOutcome restore(RestoreJob job, ImageSource source, RestoreListener listener) throws IOException {
        Objects.requireNonNull(job, "job");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(listener, "listener");
        long start = System.nanoTime();
        Path workDir = CriuWorkDir.create(workRoot, "r");
        Path log = workDir.resolve(LOG_FILE);
        Path pidFile = workDir.resolve(PID_FILE);
        UnixListener socket = UnixListener.bind(workDir.resolve(StreamerConnection.SERVE_SOCKET));
        ActionScriptGate hook = null;
        JobTerminal terminal = null;
        boolean restored = false;
        try {
            hook = job.gate() == null ? null : ActionScriptGate.create(workDir, ActionScriptGate.POST_RESTORE, job.timeout());
            List<String> args = criuArgs(job, workDir, pidFile, hook);
            if (job.options().shellJob() && terminals != null) {
                terminal = terminals.open(job.snapshot(), workDir.getFileName().toString());
            }
            CriuProcess criu = terminal == null ? launcher.start(args, workDir)
                    : launcher.start(args, workDir, terminal.slave());
            Held held = hook == null ? null : new Held(hook, job.gate(), listener);
            Thread gateThread = held == null ? null : daemon(held, "ferry-resume-gate-" + workDir.getFileName());
            ServeTally tally = new ServeTally();
            ServeSession session = new ServeSession(socket, criu, source, listener, tally);
            try {
                listener.phase(RestoreListener.PHASE_CRIU);
                Thread serveThread = daemon(session, "ferry-serve-" + workDir.getFileName());
                boolean timedOut = !awaitExit(criu, job.timeout());
                Duration duration = Duration.ofNanos(System.nanoTime() - start);
                if (held != null) {
                    hook.cancel(); // wakes the gate thread if CRIU never reached post-restore
                    join(gateThread);
                    if (gateThread.isAlive()) {
                        gateThread.interrupt();
                        join(gateThread);
                    }
                }
                join(serveThread); // CRIU's exit closed the connection
                awaitServers(session); // pipes whose reader is gone end with EPIPE; close() interrupts the rest
                int exit = criu.isAlive() ? -1 : criu.exitValue();
                if (timedOut) {
                    throw CriuException.fromLog("restore", exit, log, "CRIU did not finish within the restore timeout ("
                            + job.timeout() + ") and was stopped", session.failure());
                }
                if (exit != 0) {
                    String refused = held == null ? null : held.refusal.get();
                    throw CriuException.fromLog("restore", exit, log, refused != null ? refused : reason(session),
                            session.failure());
                }
                RestoreOutcome outcome = new RestoreOutcome(readPid(pidFile), tally.bytesServed(),
                        tally.imagesServed(), tally.imagesMissing(), duration, workDir, log, terminal);
                if (terminal != null) {
                    terminal.attach();
                }
                restored = true;
                return outcome;
            } finally {
                session.close();
                criu.stop(STOP_GRACE);
            }
        } finally {
            if (terminal != null && !restored) {
                terminal.close(); // nothing restored holds it
            }
            // Only now, with CRIU gone: its script and its connection no longer need them. Logs stay.
            try {
                if (hook != null) {
                    hook.close();
                }
                socket.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cleaning up after the restore: " + e.getMessage());
            }
        }
    }

    /**
     * Post-copy: a restore with {@code lazy_pages} by {@code swrk} (started by the caller ahead of time, see
     * {@link CriuSwrk}) from {@code images}, a tmpfs dir the caller filled and owns, with CRIU's work files in
     * {@code workDir}, where the caller's {@code criu lazy-pages} already listens on {@code lazy-pages.socket}.
     * Returns once the tree runs (its missing pages come through lazy-pages). A job with a gate is held at CRIU's
     * {@code post-restore} notification, which is answered with the gate's verdict. Closes {@code swrk}.
     *
     * @throws CriuException if CRIU failed, overstayed the timeout, or the gate refused (then the tree never ran)
     */
    public RestoreOutcome restoreLazy(RestoreJob job, CriuSwrk swrk, Path images, Path workDir,
                                      RestoreListener listener) throws IOException {
        long start = System.nanoTime();
        Path log = workDir.resolve(LOG_FILE);
        AtomicReference<String> refusal = new AtomicReference<>();
        try (swrk;
             FileDescriptorHandle imagesDir = FileDescriptorHandle.openDirectory(images);
             FileDescriptorHandle work = FileDescriptorHandle.openDirectory(workDir)) {
            CriuRpc.criu_opts.Builder opts = job.options().restoreRpc(CriuRpc.criu_opts.newBuilder())
                    .setImagesDirFd(imagesDir.fd()) // CRIU opens /proc/<our pid>/fd/<n>
                    .setWorkDirFd(work.fd())
                    .setLogFile(LOG_FILE)
                    .setLogLevel(4)
                    .setLazyPages(true)
                    .setNotifyScripts(job.gate() != null);
            CriuRpc.criu_req request = CriuRpc.criu_req.newBuilder().setType(CriuRpc.criu_req_type.RESTORE)
                    .setOpts(opts).build();
            listener.phase(RestoreListener.PHASE_CRIU);
            CriuRpc.criu_resp reply;
            try {
                reply = swrk.call(request, (script, pid) -> notified(job.gate(), listener, refusal, script, pid),
                        job.timeout());
            } catch (SocketTimeoutException e) {
                LOG.log(Level.WARNING, swrk + " overstayed " + job.timeout() + "; stopping it");
                stopWithTree(swrk.process());
                throw CriuException.fromLog("restore", -1, log, "CRIU did not finish within the restore timeout ("
                        + job.timeout() + ") and was stopped", null);
            } catch (EOFException e) {
                swrk.process().waitFor(STOP_GRACE);
                int exit = swrk.process().isAlive() ? -1 : swrk.process().exitValue();
                throw CriuException.fromLog("restore", exit, log, "criu swrk exited without answering", null);
            } catch (InterruptedException e) {
                stopWithTree(swrk.process());
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for " + swrk + "; CRIU was stopped");
            }
            Duration duration = Duration.ofNanos(System.nanoTime() - start);
            if (!reply.getSuccess() || reply.getRestore().getPid() <= 0) {
                throw CriuException.fromLog("restore", 1, log, refusal.get(), null);
            }
            return new RestoreOutcome(reply.getRestore().getPid(), 0, 0, 0, duration, workDir, log);
        } catch (InterruptedException e) { // from waiting for swrk's exit
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + swrk + " to exit");
        }
    }

    /** A post-copy restore's notification: only post-restore is held, for the gate's verdict. */
    private static boolean notified(ResumeGate gate, RestoreListener listener, AtomicReference<String> refusal,
                                    String script, long pid) throws InterruptedException {
        if (!ActionScriptGate.POST_RESTORE.equals(script)) {
            return true;
        }
        listener.phase(RestoreListener.PHASE_HELD);
        boolean resume = false;
        try {
            resume = gate.mayResume(pid);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the resume gate failed: " + e);
        }
        if (resume) {
            listener.phase(RestoreListener.PHASE_RESUME);
        } else {
            refusal.set(HELD_NOT_RESUMED);
        }
        return resume;
    }

    private static List<String> criuArgs(RestoreJob job, Path workDir, Path pidFile, ActionScriptGate hook) {
        List<String> args = new ArrayList<>(List.of("restore", "--stream", "-d", "-D", workDir.toString(),
                "-o", LOG_FILE, "-v4", "--pidfile", pidFile.toString()));
        if (hook != null) {
            args.addAll(List.of("--action-script", hook.script().toString()));
        }
        args.addAll(job.options().restoreArgs());
        return args;
    }

    /** The gate's side of post-restore: waits for the script's request, asks the gate, answers the script. */
    private static final class Held implements Runnable {
        private final ActionScriptGate hook;
        private final ResumeGate gate;
        private final RestoreListener listener;
        /** Why the tree was not resumed, once the gate refused; null otherwise. */
        final AtomicReference<String> refusal = new AtomicReference<>();

        Held(ActionScriptGate hook, ResumeGate gate, RestoreListener listener) {
            this.hook = hook;
            this.gate = gate;
            this.listener = listener;
        }

        @Override
        public void run() {
            OptionalLong pid;
            try {
                pid = hook.awaitRequest();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "reading the post-restore request failed: " + e.getMessage());
                return;
            }
            if (pid.isEmpty()) {
                return; // CRIU ended before post-restore
            }
            listener.phase(RestoreListener.PHASE_HELD);
            boolean resume = false;
            try {
                resume = gate.mayResume(pid.getAsLong());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "the resume gate failed: " + e);
            } finally {
                if (!resume) {
                    refusal.set(HELD_NOT_RESUMED);
                }
                try {
                    hook.answer(resume);
                } catch (IOException e) {
                    // the script then reads EOF or times out, which also fails post-restore
                    LOG.log(Level.WARNING, "answering the post-restore script failed: " + e.getMessage());
                }
            }
            if (resume) {
                listener.phase(RestoreListener.PHASE_RESUME);
            }
        }
    }

    private static Thread daemon(Runnable task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static String reason(ServeSession session) {
        if (session.failure() != null) {
            return "serving images failed: " + session.failure().getMessage();
        }
        return session.connected() ? null : "CRIU exited without connecting to " + StreamerConnection.SERVE_SOCKET;
    }

    /** True if CRIU exited within {@code timeout}; otherwise stops it and returns false. */
    private static boolean awaitExit(CriuProcess criu, Duration timeout) throws InterruptedIOException {
        try {
            if (criu.waitFor(timeout)) {
                return true;
            }
        } catch (InterruptedException e) {
            stopWithTree(criu);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for criu restore (pid " + criu.pid() + "); CRIU was stopped");
        }
        LOG.log(Level.WARNING, "criu restore (pid " + criu.pid() + ") overstayed " + timeout + "; stopping it");
        stopWithTree(criu);
        return false;
    }

    /**
     * Stops CRIU and kills the tree it was restoring. Stopping CRIU alone leaves that tree behind, reparented and
     * stuck in CRIU's restorer (seen with a restore waiting for a file lock the frozen source still held): it would
     * hold the target's PIDs and resources, and could run once the lock frees.
     */
    private static void stopWithTree(CriuProcess criu) {
        List<ProcessHandle> tree = criu.children();
        criu.stop(STOP_GRACE);
        for (ProcessHandle p : tree) {
            if (p.isAlive()) {
                LOG.log(Level.WARNING, "killing pid " + p.pid() + " of the restore CRIU did not finish");
                p.destroyForcibly();
            }
        }
    }

    private static long readPid(Path pidFile) throws IOException {
        String text;
        try {
            text = Files.readString(pidFile, StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            throw new IOException("criu restore exited 0 but left no pid file " + pidFile + ": " + e.getMessage(), e);
        }
        try {
            long pid = Long.parseLong(text);
            if (pid > 0) {
                return pid;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IOException("pid file " + pidFile + " holds '" + text + "' (expected: a positive pid)");
    }

    private static void join(Thread t) throws InterruptedIOException {
        try {
            t.join(THREAD_GRACE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + t.getName());
        }
        if (t.isAlive()) {
            LOG.log(Level.WARNING, t.getName() + " still running " + THREAD_GRACE + " after CRIU exited");
        }
    }

    private static void awaitServers(ServeSession session) throws InterruptedIOException {
        try {
            if (!session.awaitServers(System.nanoTime() + THREAD_GRACE.toNanos())) {
                LOG.log(Level.WARNING, "image serving threads still running " + THREAD_GRACE + " after CRIU exited");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for image serving threads");
        }
    }
}
