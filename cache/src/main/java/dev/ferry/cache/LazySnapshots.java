package dev.ferry.cache;

import dev.ferry.criu.CriuStatsFile;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.control.RestoreRequest;
import dev.ferry.protocol.control.SnapshotDetail;
import dev.ferry.protocol.message.MigrateSpec;
import dev.ferry.restore.RestoreOutcome;
import io.netty.channel.Channel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The snapshots of {@code ferry dump --remote --lazy} this image-cache holds. Such a snapshot is committed and verified
 * like any other, but its lazy pages are still on the source, in the frozen process, served by the source's CRIU over
 * the one connection that brought the snapshot. So each is held with that connection until one {@code ferry restore
 * --remote --lazy} ({@link #restore}) fetches the pages through it, exactly as a post-copy migration does
 * ({@link MigrationTarget#restoreStarted}: the tree held at post-restore until the proxy's SNAPSHOT_RESUME). It is
 * dropped when the connection closes (the source gave up, and its CRIU resumed the process there) or when its lazy
 * timeout plus {@link #GRACE} passes with no restore begun (the connection is then closed, so the source resumes).
 *
 * <p>Ownership: holds each snapshot's connection, with a {@link ConnectionGuard#peerWaits peer wait} so that the
 * idle timeout spares it, until the snapshot is restored or dropped; the snapshot itself stays the store's.
 * Thread-safe: holds come from event loops, restores from control-socket threads.
 */
final class LazySnapshots {

    /** How much longer than the source waits for a restore the cache keeps the snapshot (the nodes' clocks differ). */
    static final Duration GRACE = Duration.ofSeconds(5);
    static final String PHASE_RESTORED = "restored";
    static final String PHASE_POST_COPY = "post-copy";
    private static final long PROGRESS_EVERY_MILLIS = 250;
    private static final Logger LOG = Logger.getLogger(LazySnapshots.class.getName());

    /** A held snapshot's connection to its source, and the peer wait that keeps it from idling out. */
    private record Held(Channel channel, String peer, ConnectionGuard.PeerWait idleExempt) {
    }

    private final ConcurrentMap<StoredSnapshot, Held> held = new ConcurrentHashMap<>();
    private final SnapshotStore store;
    private final MigrationTarget migrations;

    LazySnapshots(SnapshotStore store, MigrationTarget migrations) {
        this.store = store;
        this.migrations = migrations;
    }

    /** The lazy snapshot {@code s} is committed on {@code channel}: hold it there for a restore. On its event loop. */
    void hold(StoredSnapshot s, Channel channel, String peer) {
        held.put(s, new Held(channel, peer, ConnectionGuard.peerWaits(channel)));
        Duration timeout = s.lazyTimeout().plus(GRACE);
        channel.closeFuture().addListener(f -> release(s, "the connection to its source " + peer + " closed, so the"
                + " source's CRIU resumed the process there"));
        channel.eventLoop().schedule(() -> {
            if (release(s, "no `ferry restore -D " + s.name() + " --remote --lazy` began within "
                    + timeout.toMillis() / 1000.0 + " s; closing the connection to " + peer + " so that the source resumes the process")) {
                channel.close();
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info(() -> "snapshot " + s.name() + ": post-copy snapshot held with its source " + peer + " for a"
                + " `ferry restore --remote --lazy` within " + s.lazyTimeout().toMillis() / 1000.0 + " s");
    }

    /**
     * {@code ferry images rm} removed the held snapshot {@code s}: no restore can take it now, so its connection is
     * closed at once and the source's CRIU resumes the process (the proxy's reset), instead of it staying frozen until
     * {@code --lazy-timeout}.
     */
    void removed(StoredSnapshot s) {
        Held h = held.remove(s);
        if (h == null) {
            return;
        }
        h.idleExempt().close();
        LOG.info(() -> "snapshot " + s.name() + ": post-copy snapshot removed (ferry images rm); closing the connection"
                + " to " + h.peer() + " so that the source resumes the process");
        h.channel().close();
    }

    /** Whether {@code s} is held waiting for its restore. */
    boolean isHeld(StoredSnapshot s) {
        return held.containsKey(s);
    }

    /** Forgets the hold of {@code s}, if any, and drops it unless a restore has it; true if it dropped it. */
    private boolean release(StoredSnapshot s, String why) {
        Held h = held.remove(s);
        if (h == null) {
            return false;
        }
        h.idleExempt().close();
        if (store.dropUnlessRestoring(s)) {
            LOG.info(() -> "snapshot " + s.name() + ": post-copy snapshot dropped: " + why);
            return true;
        }
        return false;
    }

    /**
     * {@code ferry restore --remote --lazy} of the lazy snapshot {@code s}: restores it through its source's
     * connection, shows progress (the tree running, then the pages arriving, about how many are still on the source,
     * the rate) on {@code session}, waits for the last page, and answers the result. Runs on the caller's thread.
     */
    Result restore(StoredSnapshot s, RestoreRequest r, Duration restoreTimeout, ControlSession session) {
        if (r.getKeep()) {
            return Results.failure(ExitCode.USAGE, "--keep with --lazy: the pages of snapshot " + s.name() + " cross"
                    + " once, out of the frozen source, which ends after the last one; nothing would be left to restore"
                    + " again (expected: no --keep)");
        }
        Held h = held.remove(s);
        if (h == null) {
            return Results.failure(ExitCode.REFUSED, s.state() == StoredSnapshot.State.RESTORING
                    ? "snapshot " + s.name() + " is being restored by another request; wait for it to finish"
                    : "snapshot " + s.name() + " is no longer held: its source gave up (--lazy-timeout) or its"
                    + " connection closed, and the process runs on there; dump it again");
        }
        try {
            if (!h.channel().isActive() || !store.startRestore(s)) {
                store.dropUnlessRestoring(s);
                return Results.failure(ExitCode.PEER_UNREACHABLE, "snapshot " + s.name() + ": the connection to its"
                        + " source " + h.peer() + " closed, so the process runs on there; the snapshot is dropped");
            }
            return restoreHeld(s, h, r, restoreTimeout, session);
        } finally {
            h.idleExempt().close();
        }
    }

    private Result restoreHeld(StoredSnapshot s, Held h, RestoreRequest r, Duration restoreTimeout,
                               ControlSession session) {
        long started = System.nanoTime();
        long imageBytes = s.bytes();
        int images = s.imageCount();
        long remoteBytes = remotePageBytes(s);
        session.expectBytes(remoteBytes);
        session.progress("restore", 0, 0, "restoring " + s.name() + " (" + images + " images here, about "
                + remoteBytes + " page bytes on the source " + h.peer() + ")");
        LOG.info(() -> "snapshot " + s.name() + ": post-copy restore starting, " + images + " images, " + imageBytes
                + " bytes here, about " + remoteBytes + " page bytes on the source");
        MigrateSpec spec = MigrateSpec.newBuilder()
                .setRestore(r.getCriu())
                .setRestoreTimeoutMillis(restoreTimeout.toMillis())
                .setLazyPages(true)
                .setLazyTimeoutMillis(s.lazyTimeout().toMillis())
                .build();
        Progress progress = new Progress(session, r, remoteBytes);
        MigrationTarget.Verdict v;
        try {
            v = migrations.restoreStarted(s, spec, h.channel(), h.peer(), progress);
        } finally {
            progress.stop();
        }
        return result(s, v, imageBytes, images, started, progress.pidfileProblem);
    }

    private static Result result(StoredSnapshot s, MigrationTarget.Verdict v, long imageBytes, int images, long started,
                                 String pidfileProblem) {
        long millis = (System.nanoTime() - started) / 1_000_000;
        if (v.failure() == null) {
            RestoreOutcome o = v.outcome();
            Result.Builder done = Results.success("restored " + s.name() + " as pid " + o.restoredPid() + "; post-copy: "
                    + v.lazyBytes() + " page bytes arrived from the source in " + v.lazyMillis() + " ms, and the"
                    + " source's process ended there" + (pidfileProblem == null ? "" : "; WARNING: " + pidfileProblem));
            CriuStatsFile.read(o.workDir()).ifPresent(done::setCriuStats);
            return done.setRestoredPid(o.restoredPid())
                    .setBytes(imageBytes)
                    .setImages(images)
                    .setDurationMillis(millis)
                    .setLazyBytes(v.lazyBytes())
                    .setLazyMillis(v.lazyMillis())
                    .setCriuLogPath(String.valueOf(o.logPath()))
                    .build();
        }
        if (v.ran()) {
            return Results.failure(ExitCode.FAILURE, "post-copy of " + s.name() + " failed after " + v.lazyBytes()
                    + " page bytes had arrived: " + v.failure() + ". The process ran here (pid "
                    + v.outcome().restoredPid() + ") while some of its memory was still on the source; without those"
                    + " pages it cannot go on, so it was stopped on both nodes. This is the trade-off of --lazy"
                    + " (docs/migrate.md)").toBuilder().setLazyBytes(v.lazyBytes()).setLazyMillis(v.lazyMillis())
                    .setCriuLogPath(String.valueOf(v.outcome().logPath())).build();
        }
        String message = "restore of " + s.name() + " failed: " + v.failure() + "; the tree never ran here, so the"
                + " source's CRIU resumes the process there (`ferry dump` there says how it went on); the snapshot is"
                + " dropped, its pages no longer on offer";
        if (v.criu() == null) {
            return Results.failure(ExitCode.FAILURE, message);
        }
        return Results.failure(ExitCode.CRIU_FAILED, message).toBuilder()
                .addAllCriuLogExcerpt(v.criu().logExcerpt())
                .setCriuLogPath(String.valueOf(v.criu().logPath()))
                .build();
    }

    /** About how many page bytes of {@code s} are still on the source: its tree's memory less the pages it holds. */
    private static long remotePageBytes(StoredSnapshot s) {
        try {
            SnapshotDetail.Builder d = SnapshotInspector.inspect(s, s.imageSizes());
            long memory = d.getProcessesList().stream().mapToLong(p -> p.getMemoryBytes()).sum();
            return Math.max(0, memory - d.getPagesBytes());
        } catch (Exception e) {
            LOG.fine(() -> "snapshot " + s.name() + ": its memory is not known (" + e + ")");
            return 0;
        }
    }

    /**
     * What {@code ferry restore --lazy} shows while it runs: the engine's phases, the tree running (and its pid in the
     * pidfile), then every {@link #PROGRESS_EVERY_MILLIS} the page bytes arrived, about how many are still on the
     * source, and the rate.
     */
    private static final class Progress implements MigrationTarget.Watcher {
        private final ControlSession session;
        private final RestoreRequest request;
        private final long remoteBytes;
        private volatile Thread reporter;
        private volatile boolean stopped;
        volatile String pidfileProblem;

        Progress(ControlSession session, RestoreRequest request, long remoteBytes) {
            this.session = session;
            this.request = request;
            this.remoteBytes = remoteBytes;
        }

        @Override
        public void phase(String phase) {
            session.progress(phase, 0, 0, "");
        }

        @Override
        public void running(RestoreOutcome outcome, LazyRestore lazy) {
            if (!request.getPidfile().isEmpty()) {
                try {
                    RestoreService.writePidfile(Path.of(request.getPidfile()), outcome.restoredPid());
                } catch (IOException e) {
                    pidfileProblem = "writing --pidfile " + request.getPidfile() + " failed: " + e.getMessage();
                }
            }
            session.progress(PHASE_RESTORED, 0, 0, "runs as pid " + outcome.restoredPid() + "; its pages follow"
                    + " from the source");
            if (lazy == null) {
                return;
            }
            Thread t = new Thread(() -> report(lazy), "ferry-lazy-restore-progress");
            t.setDaemon(true);
            reporter = t;
            t.start();
        }

        private void report(LazyRestore lazy) {
            long last = 0;
            long lastAt = System.nanoTime();
            while (!stopped) {
                try {
                    Thread.sleep(PROGRESS_EVERY_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
                long now = lazy.bytes();
                long at = System.nanoTime();
                double rate = (now - last) / Math.max(1e-9, (at - lastAt) / 1e9);
                session.progress(PHASE_POST_COPY, now, 0, String.format(java.util.Locale.ROOT,
                        "post-copy: %d page bytes arrived, about %d still on the source, %.1f MB/s", now,
                        Math.max(0, remoteBytes - now), rate / 1e6));
                last = now;
                lastAt = at;
            }
        }

        void stop() {
            stopped = true;
            Thread t = reporter;
            if (t != null) {
                t.interrupt();
                try {
                    t.join(1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
