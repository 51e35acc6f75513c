package dev.ferry.restore;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuLauncher;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.CriuWorkDir;
import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.image.ImageSource;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Runs {@code criu restore --stream -d} and serves the images it asks for from an {@link ImageSource}.
 *
 * <p>One restore: a private work dir {@code <workRoot>/r-<id>} (0700) holds {@code streamer-serve.sock}; CRIU
 * connects once and a {@link ServeSession} thread answers its requests, with one thread per image being written.
 * The calling thread waits for CRIU, stops it (SIGTERM, then SIGKILL) only if it overstays the job's timeout, and
 * reads the restored pid from {@code restored.pid}. Afterwards the work dir keeps {@code restore.log},
 * {@code stats-restore}, {@code criu.out} and {@code restored.pid}; the socket is deleted.
 *
 * <p>Ownership: each restore owns its CRIU process, threads and socket and ends them before returning; the source
 * stays the caller's. Thread-safety: an engine runs any number of restores at once, each on its caller's thread.
 */
public final class RestoreEngine {

    public static final String LOG_FILE = "restore.log";
    public static final String PID_FILE = "restored.pid";
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    private static final Duration THREAD_GRACE = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(RestoreEngine.class.getName());

    private final CriuLauncher launcher;
    private final Path workRoot;

    public RestoreEngine(Criu criu, Path workRoot) {
        this(criu.launcher(), workRoot);
    }

    /** With another way of starting CRIU, e.g. a scripted peer in tests. */
    public RestoreEngine(CriuLauncher launcher, Path workRoot) {
        this.launcher = Objects.requireNonNull(launcher, "launcher");
        this.workRoot = Objects.requireNonNull(workRoot, "workRoot");
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
        try {
            CriuProcess criu = launcher.start(criuArgs(job, workDir, pidFile), workDir);
            ServeTally tally = new ServeTally();
            ServeSession session = new ServeSession(socket, criu, source, listener, tally);
            try {
                listener.phase(RestoreListener.PHASE_CRIU);
                Thread serveThread = new Thread(session, "ferry-serve-" + workDir.getFileName());
                serveThread.setDaemon(true);
                serveThread.start();
                boolean timedOut = !awaitExit(criu, job.timeout());
                Duration duration = Duration.ofNanos(System.nanoTime() - start);
                join(serveThread); // CRIU's exit closed the connection
                awaitServers(session); // pipes whose reader is gone end with EPIPE; close() interrupts the rest
                int exit = criu.isAlive() ? -1 : criu.exitValue();
                if (timedOut) {
                    throw CriuException.fromLog("restore", exit, log, "CRIU did not finish within the restore timeout ("
                            + job.timeout() + ") and was stopped", session.failure());
                }
                if (exit != 0) {
                    throw CriuException.fromLog("restore", exit, log, reason(session), session.failure());
                }
                return new RestoreOutcome(readPid(pidFile), tally.bytesServed(), tally.imagesServed(),
                        tally.imagesMissing(), duration, workDir, log);
            } finally {
                session.close();
                criu.stop(STOP_GRACE);
            }
        } finally {
            try {
                socket.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cleaning up after the restore: " + e.getMessage());
            }
        }
    }

    private static List<String> criuArgs(RestoreJob job, Path workDir, Path pidFile) {
        List<String> args = new ArrayList<>(List.of("restore", "--stream", "-d", "-D", workDir.toString(),
                "-o", LOG_FILE, "-v4", "--pidfile", pidFile.toString()));
        args.addAll(job.options().restoreArgs());
        return args;
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
            criu.stop(STOP_GRACE);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for criu restore (pid " + criu.pid() + "); CRIU was stopped");
        }
        LOG.log(Level.WARNING, "criu restore (pid " + criu.pid() + ") overstayed " + timeout + "; stopping it");
        criu.stop(STOP_GRACE);
        return false;
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
