package dev.ferry.dump;

import dev.ferry.criu.ActionScriptGate;
import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuLauncher;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.CriuWorkDir;
import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.Processes;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageSink;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Runs {@code criu dump --stream} and captures its images into an {@link ImageSink}, never onto disk.
 *
 * <p>One dump: a private work dir {@code <workRoot>/d-<id>} (0700) holds {@code streamer-capture.sock}, the
 * action script {@code hook} and the barrier FIFOs. CRIU connects once; a {@link CaptureSession} thread reads its
 * requests and starts one drain thread per image pipe. At post-dump a {@link CommitBarrier} thread waits for the
 * last images, asks the sink to commit the manifest, and lets CRIU go on only if the commit succeeded; otherwise
 * CRIU rolls back and the source keeps running. The calling thread waits for CRIU, stops it (SIGTERM, then
 * SIGKILL) only if it overstays the job's timeout, and returns the outcome or throws. Afterwards the work dir keeps
 * {@code dump.log}, {@code stats-dump} and {@code criu.out}; the socket, script and FIFOs are deleted.
 *
 * <p>Ownership: each dump owns its CRIU process, threads and work-dir files, and ends them all before returning;
 * the sink stays the caller's, but the engine calls {@link ImageSink#abort} on every failure before the commit. Thread-safety: an
 * engine runs any number of dumps at once, each on its caller's thread.
 */
public final class DumpEngine {

    public static final String LOG_FILE = "dump.log";
    /** Extra time the hook waits beyond the commit timeout, so the engine's verdict normally arrives first. */
    static final Duration HOOK_SLACK = Duration.ofSeconds(10);
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    private static final Duration THREAD_GRACE = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(DumpEngine.class.getName());

    private final CriuLauncher launcher;
    private final Path workRoot;
    private final BufferPool buffers = new BufferPool();

    public DumpEngine(Criu criu, Path workRoot) {
        this(criu.launcher(), workRoot);
    }

    /** With another way of starting CRIU, e.g. a scripted peer in tests. */
    public DumpEngine(CriuLauncher launcher, Path workRoot) {
        this.launcher = Objects.requireNonNull(launcher, "launcher");
        this.workRoot = Objects.requireNonNull(workRoot, "workRoot");
    }

    /**
     * Dumps {@code job.pid()} into {@code sink}. Returns once CRIU exited 0 after the sink committed the snapshot.
     *
     * @throws DumpCommitException if the sink did not commit in time or refused; CRIU then resumed the source
     * @throws CriuException if CRIU failed (also when an engine-side capture failure made it fail); if it failed
     *                       only after the sink had committed, the snapshot is kept (no abort) and the message says
     *                       whether the source still runs
     * @throws IOException if the dump could not be set up (work dir, socket, starting CRIU)
     */
    public DumpOutcome dump(DumpJob job, ImageSink sink, DumpListener listener) throws IOException {
        Objects.requireNonNull(job, "job");
        Objects.requireNonNull(sink, "sink");
        Objects.requireNonNull(listener, "listener");
        SinkAbort abort = new SinkAbort(sink);
        try {
            return run(job, listener, abort);
        } catch (IOException | RuntimeException | Error e) {
            abort.abort(e.getMessage() != null ? e.getMessage() : e.toString());
            throw e;
        }
    }

    private DumpOutcome run(DumpJob job, DumpListener listener, SinkAbort abort) throws IOException {
        long start = System.nanoTime();
        Path workDir = CriuWorkDir.create(workRoot, "d");
        UnixListener socket = null;
        ActionScriptGate hook = null;
        try {
            socket = UnixListener.bind(workDir.resolve(StreamerConnection.CAPTURE_SOCKET));
            hook = ActionScriptGate.create(workDir, ActionScriptGate.POST_DUMP, job.commitTimeout().plus(HOOK_SLACK));
            CriuProcess criu = launcher.start(criuArgs(job, workDir, hook.script()), workDir);
            CaptureSession capture = new CaptureSession(socket, criu, abort.sink, listener, buffers);
            try {
                return superviseCriu(job, criu, capture, hook, listener, abort, workDir, start);
            } finally {
                capture.close();
                criu.stop(STOP_GRACE);
            }
        } finally {
            // Only now, with CRIU gone: its hook and its connection no longer need them. Logs stay.
            closeQuietly(hook);
            closeQuietly(socket);
        }
    }

    private DumpOutcome superviseCriu(DumpJob job, CriuProcess criu, CaptureSession capture, ActionScriptGate hook,
                                      DumpListener listener, SinkAbort abort, Path workDir, long start)
            throws IOException {
        Path log = workDir.resolve(LOG_FILE);
        listener.phase(DumpListener.PHASE_CRIU);
        CommitBarrier barrier = new CommitBarrier(hook, capture, abort.sink, job.snapshot(), job.commitTimeout(), listener);
        abort.barrier = barrier;
        Thread captureThread = startThread(capture, "ferry-capture-" + workDir.getFileName());
        Thread barrierThread = startThread(barrier, "ferry-post-dump-" + workDir.getFileName());
        CriuExit exit = awaitExit(criu, job.timeout());
        Duration duration = Duration.ofNanos(System.nanoTime() - start);
        hook.cancel(); // wakes the barrier if CRIU never reached post-dump
        joinOrInterrupt(barrierThread);
        join(captureThread); // CRIU's exit closed the connection: the request loop sees EOF
        warnAboutImagesOnDisk(workDir);
        if (exit.code() == 0 && barrier.committed()) {
            List<ImageDigest> manifest = capture.manifest();
            long bytes = manifest.stream().mapToLong(ImageDigest::size).sum();
            return new DumpOutcome(bytes, manifest.size(), duration, workDir, log);
        }
        IOException failure = failure(job, exit, barrier, capture, log);
        abort.abort(failure.getMessage()); // first, so that drains blocked in the sink get released
        capture.close();
        throw failure;
    }

    private static void closeQuietly(java.io.Closeable resource) {
        if (resource == null) {
            return;
        }
        try {
            resource.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cleaning up after the dump: " + e.getMessage());
        }
    }

    private static List<String> criuArgs(DumpJob job, Path workDir, Path hook) {
        List<String> args = new ArrayList<>(List.of("dump", "--stream", "-t", Long.toString(job.pid()),
                "-D", workDir.toString(), "-o", LOG_FILE, "-v4", "--action-script", hook.toString()));
        args.addAll(job.options().dumpArgs());
        return args;
    }

    private IOException failure(DumpJob job, CriuExit exit, CommitBarrier barrier, CaptureSession capture, Path log) {
        IOException captureFailure = capture.failure();
        if (barrier.committed()) {
            // CRIU can still fail after post-dump said ok; the source may be gone, so the verified snapshot stays.
            return CriuException.fromLog("dump", exit.code(), log, "CRIU failed after the snapshot was committed"
                    + (exit.timedOut() ? " (it overstayed the dump timeout " + job.timeout() + " and was stopped)" : "")
                    + "; snapshot " + job.snapshot() + " is kept; source pid " + job.pid()
                    + (Processes.isAlive(job.pid()) ? " is still running: remove the snapshot or stop the source"
                                                    : " is gone: restore the snapshot"), captureFailure);
        }
        if (exit.timedOut()) {
            return CriuException.fromLog("dump", exit.code(), log, "CRIU did not finish within the dump timeout ("
                    + job.timeout() + ") and was stopped", captureFailure);
        }
        DumpCommitException commitFailure = barrier.commitFailure();
        if (commitFailure != null) {
            String consequence = exit.code() != 0
                    ? "; the post-dump hook failed, so CRIU resumed the source (criu exit " + exit.code() + "; log: " + log + ")"
                    : "; but criu exited 0: check the source process (log: " + log + ")";
            DumpCommitException e = new DumpCommitException(commitFailure.getMessage() + consequence, commitFailure.getCause());
            e.addSuppressed(CriuException.fromLog("dump", exit.code(), log, null, null));
            return e;
        }
        if (captureFailure != null) {
            return CriuException.fromLog("dump", exit.code(), log, captureFailure.getMessage()
                    + " (CRIU was made to fail, so it resumed the source)", captureFailure);
        }
        if (exit.code() == 0) {
            return CriuException.fromLog("dump", 0, log, barrier.reached()
                    ? "the snapshot was not committed"
                    : "CRIU never ran the post-dump action, so the snapshot was not committed", null);
        }
        return CriuException.fromLog("dump", exit.code(), log,
                capture.connected() ? null : "CRIU exited without connecting to " + StreamerConnection.CAPTURE_SOCKET, null);
    }

    private record CriuExit(int code, boolean timedOut) {
    }

    /** Waits for CRIU; stops it if it overstays {@code timeout} or this thread is interrupted. */
    private static CriuExit awaitExit(CriuProcess criu, Duration timeout) throws InterruptedIOException {
        try {
            if (criu.waitFor(timeout)) {
                return new CriuExit(criu.exitValue(), false);
            }
        } catch (InterruptedException e) {
            criu.stop(STOP_GRACE);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for criu dump (pid " + criu.pid() + "); CRIU was stopped");
        }
        LOG.log(Level.WARNING, "criu dump (pid " + criu.pid() + ") overstayed " + timeout + "; stopping it");
        criu.stop(STOP_GRACE);
        return new CriuExit(criu.isAlive() ? -1 : criu.exitValue(), true);
    }

    private static Thread startThread(Runnable task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void joinOrInterrupt(Thread t) throws InterruptedIOException {
        join(t);
        if (t.isAlive()) {
            t.interrupt();
            join(t);
        }
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

    /** Images must never reach the disk; if one did (e.g. a CRIU plugin), say so. */
    private static void warnAboutImagesOnDisk(Path workDir) {
        try (DirectoryStream<Path> images = Files.newDirectoryStream(workDir, "*.img")) {
            for (Path image : images) {
                LOG.log(Level.WARNING, "CRIU wrote an image to disk despite --stream: " + image);
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "listing " + workDir + ": " + e.getMessage());
        }
    }

    /**
     * Calls {@link ImageSink#abort} at most once per dump, and never once the snapshot is committed: after that
     * the source may already be gone and the snapshot is its only copy.
     */
    private static final class SinkAbort {
        final ImageSink sink;
        volatile CommitBarrier barrier;
        private boolean done;

        SinkAbort(ImageSink sink) {
            this.sink = sink;
        }

        synchronized void abort(String reason) {
            if (done) {
                return;
            }
            done = true;
            CommitBarrier b = barrier;
            if (b != null && b.committed()) {
                LOG.log(Level.WARNING, "not aborting the committed snapshot despite: " + reason);
                return;
            }
            try {
                sink.abort(reason);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "image sink abort failed: " + e);
            }
        }
    }
}
