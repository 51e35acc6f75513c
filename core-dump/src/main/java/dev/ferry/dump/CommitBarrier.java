package dev.ferry.dump;

import dev.ferry.criu.ActionScriptGate;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageSink;
import dev.ferry.protocol.image.SnapshotName;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The engine's half of the post-dump barrier, on its own thread: waits for the hook's request, lets the capture
 * take in CRIU's last requests and drain every pipe, asks the sink to commit the manifest, and answers the hook
 * {@code ok} only if the commit completed within the commit timeout. Every other outcome answers {@code fail},
 * so CRIU resumes the source. Without a request (CRIU failed earlier) nothing is committed.
 */
final class CommitBarrier implements Runnable {

    private static final System.Logger LOG = System.getLogger(CommitBarrier.class.getName());
    /** How long past the commit timeout a sink that can no longer give up is waited for; within the hook's slack. */
    static final Duration FINISHING_GRACE = Duration.ofSeconds(5);

    private final ActionScriptGate hook;
    private final CaptureSession capture;
    private final ImageSink sink;
    private final SnapshotName snapshot;
    private final Duration commitTimeout;
    private final DumpListener events;
    private volatile boolean reached;
    private volatile boolean committed;
    private volatile DumpCommitException commitFailure;

    CommitBarrier(ActionScriptGate hook, CaptureSession capture, ImageSink sink, SnapshotName snapshot,
                  Duration commitTimeout, DumpListener events) {
        this.hook = hook;
        this.capture = capture;
        this.sink = sink;
        this.snapshot = snapshot;
        this.commitTimeout = commitTimeout;
        this.events = events;
    }

    @Override
    public void run() {
        try {
            if (hook.awaitRequest().isEmpty()) {
                return;
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "reading the post-dump request failed: " + e.getMessage());
            return;
        }
        reached = true;
        events.phase(DumpListener.PHASE_POST_DUMP);
        boolean ok = false;
        try {
            ok = commit();
        } catch (InterruptedException e) {
            commitFailure = new DumpCommitException("snapshot " + snapshot
                    + ": the dump was stopped while waiting for the commit", e);
        } catch (RuntimeException e) {
            commitFailure = new DumpCommitException("snapshot " + snapshot + ": commit failed: " + e, e);
        } finally {
            try {
                hook.answer(ok);
            } catch (IOException e) {
                // the hook then reads EOF or times out, which also fails the post-dump action
                LOG.log(Level.WARNING, "answering the post-dump hook failed: " + e.getMessage());
            }
        }
    }

    private boolean commit() throws InterruptedException {
        long deadline = System.nanoTime() + commitTimeout.toNanos();
        if (!capture.awaitQuiescent(deadline) || !capture.awaitDrains(deadline)) {
            commitFailure = new DumpCommitException("snapshot " + snapshot + ": images " + capture.pendingImages()
                    + " were still being sent when the commit timeout (" + commitTimeout
                    + ") ran out; raise the commit timeout or check the link to the target",
                    new TimeoutException("commit timeout " + commitTimeout));
            return false;
        }
        if (capture.failure() != null) {
            return false; // reported as the capture failure; there is nothing complete to commit
        }
        List<ImageDigest> manifest = capture.manifest();
        events.phase(DumpListener.PHASE_COMMIT);
        CompletableFuture<Void> future;
        try {
            future = sink.commit(manifest);
        } catch (RuntimeException e) {
            commitFailure = new DumpCommitException("snapshot " + snapshot + ": commit failed: " + e.getMessage(), e);
            return false;
        }
        try {
            try {
                future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                if (future.cancel(false) || future.isDone()) {
                    throw e;
                }
                // The sink refused to give up: it has already told the target to go on (a migration's target
                // resumes its tree), so failing now could leave the process running twice. Its answer is due
                // within moments; the hook's own slack covers this wait.
                LOG.log(Level.WARNING, "snapshot " + snapshot + ": commit timeout ran out while the target was"
                        + " finishing; waiting up to " + FINISHING_GRACE.toSeconds() + " s more");
                future.get(FINISHING_GRACE.toNanos(), TimeUnit.NANOSECONDS);
            }
        } catch (TimeoutException e) {
            commitFailure = new DumpCommitException("snapshot " + snapshot + ": the target did not confirm the commit of "
                    + manifest.size() + " images within the commit timeout (" + commitTimeout
                    + "); raise the commit timeout or check the target", e);
            return false;
        } catch (ExecutionException | CancellationException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            commitFailure = new DumpCommitException("snapshot " + snapshot + ": the target refused the commit: "
                    + cause.getMessage(), cause);
            return false;
        }
        committed = true;
        events.phase(DumpListener.PHASE_COMMITTED);
        return true;
    }

    /** Whether the hook asked (CRIU reached post-dump). */
    boolean reached() {
        return reached;
    }

    /** Whether the sink committed and the hook was told {@code ok}. */
    boolean committed() {
        return committed;
    }

    /** Why the commit failed, or null. */
    DumpCommitException commitFailure() {
        return commitFailure;
    }
}
