package dev.ferry.cache;

import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuHints;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuOptionsMapping;
import dev.ferry.criu.CriuStatsFile;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.RestoreRequest;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.restore.JobTerminal;
import dev.ferry.restore.RestoreEngine;
import dev.ferry.restore.RestoreJob;
import dev.ferry.restore.RestoreListener;
import dev.ferry.restore.RestoreOutcome;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Answers {@code ferry restore --remote} requests from the control socket: finds the committed snapshot,
 * runs the restore engine over it, reports CRIU's outcome. A snapshot stays in the cache after a failed
 * restore, so it can be retried; after a successful one it is dropped unless the caller asked to keep it.
 */
final class RestoreService implements ControlServer.Handler {

    private static final Logger LOG = Logger.getLogger(RestoreService.class.getName());

    private final SnapshotStore store;
    private final RestoreEngine engine;
    private final Duration timeout;
    private final CacheEvents events;
    private volatile LazySnapshots lazySnapshots;
    /** Progress goes out at most this often while images are served. */
    private static final long PROGRESS_EVERY_NANOS = 250_000_000L;

    RestoreService(SnapshotStore store, RestoreEngine engine, Duration timeout) {
        this(store, engine, timeout, CacheEvents.NONE);
    }

    /** @param events told about served images and restore outcomes (metrics) */
    RestoreService(SnapshotStore store, RestoreEngine engine, Duration timeout, CacheEvents events) {
        this.events = events;
        this.store = store;
        this.engine = engine;
        this.timeout = timeout;
    }

    /** Enables {@code ferry restore --lazy} of the snapshots of {@code ferry dump --lazy} that {@code lazy} holds. */
    RestoreService withLazy(LazySnapshots lazy) {
        this.lazySnapshots = lazy;
        return this;
    }

    /** {@code ferry images rm} removed {@code s}: a post-copy snapshot's source must not stay frozen for it. */
    void snapshotRemoved(StoredSnapshot s) {
        LazySnapshots lazy = lazySnapshots;
        if (lazy != null) {
            lazy.removed(s);
        }
    }

    /**
     * Null if a restore with (or without) {@code --lazy} fits snapshot {@code s}; else the refusal, saying what was
     * expected, what was found and what to run instead. The snapshot stays held either way.
     */
    static String lazyMismatch(StoredSnapshot s, boolean lazy) {
        if (s.isLazy() && !lazy) {
            return "snapshot " + s.name() + " was dumped with `ferry dump --remote --lazy`: its pages are still on the"
                    + " source, which serves them only to a post-copy restore (expected: --lazy for such a snapshot,"
                    + " found: a restore without it); run `ferry restore -D " + s.name() + " --remote --lazy`";
        }
        if (!s.isLazy() && lazy) {
            return "--lazy: snapshot " + s.name() + " holds all its pages here, it was dumped without --lazy"
                    + " (expected: a snapshot of `ferry dump --remote --lazy`, whose pages are still on the source);"
                    + " run `ferry restore -D " + s.name() + " --remote` without --lazy";
        }
        return null;
    }

    @Override
    public void handle(Request request, ControlSession session) {
        if (!request.hasRestore()) {
            session.result(Results.failure(ExitCode.USAGE, "the image-cache takes restore requests (found: "
                    + request.getKindCase() + "); send dumps to the image-proxy on the source node"));
            return;
        }
        RestoreRequest r = request.getRestore();
        String problem = SnapshotName.problem(r.getSnapshot());
        if (problem != null) {
            session.result(Results.failure(ExitCode.USAGE, problem));
            return;
        }
        SnapshotName name = SnapshotName.of(r.getSnapshot());
        Optional<StoredSnapshot> found = store.committed(name);
        if (found.isEmpty()) {
            session.result(VerifyService.notFound(store, name));
            return;
        }
        StoredSnapshot snapshot = found.get();
        String mismatch = lazyMismatch(snapshot, r.getLazy());
        if (mismatch != null) {
            LOG.info(() -> "snapshot " + name + ": restore refused: " + mismatch);
            session.result(Results.failure(ExitCode.REFUSED, mismatch));
            return;
        }
        if (r.getLazy()) {
            LazySnapshots lazy = lazySnapshots;
            session.result(lazy != null ? lazy.restore(snapshot, r, timeout, session)
                    : Results.failure(ExitCode.REFUSED, "this image-cache does not do post-copy (--lazy)"));
            return;
        }
        if (!store.startRestore(snapshot)) {
            session.result(Results.failure(ExitCode.REFUSED, "snapshot " + name
                    + " is being restored by another request; wait for it to finish"));
            return;
        }
        CriuOptions options;
        try {
            options = CriuOptionsMapping.from(r.getCriu());
        } catch (IllegalArgumentException e) {
            store.finishRestore(snapshot);
            session.result(Results.failure(ExitCode.USAGE, e.getMessage()));
            return;
        }
        LOG.info(() -> "snapshot " + name + ": restore starting, " + snapshot.imageCount() + " images, "
                + snapshot.bytes() + " bytes");
        session.expectBytes(snapshot.bytes());
        session.progress("restore", 0, 0, "restoring " + name + " (" + snapshot.bytes() + " bytes)");
        AtomicLong served = new AtomicLong();
        AtomicInteger servedImages = new AtomicInteger();
        AtomicLong reportedAt = new AtomicLong(System.nanoTime());
        long started = System.nanoTime();
        RestoreListener listener = new RestoreListener() {
            @Override
            public void phase(String phase) {
                LOG.info(() -> "snapshot " + name + ": restore " + phase);
                session.progress(phase, served.get(), servedImages.get(), "");
            }

            @Override
            public void imageServed(ImageName image, long bytes) {
                long now = served.addAndGet(bytes);
                int count = servedImages.incrementAndGet();
                events.imageServed(image, bytes);
                long last = reportedAt.get();
                if (System.nanoTime() - last >= PROGRESS_EVERY_NANOS && reportedAt.compareAndSet(last, System.nanoTime())) {
                    session.progress("serve", now, count, "");
                }
            }
        };
        try {
            RestoreOutcome outcome = engine.restore(new RestoreJob(name, options, timeout), snapshot, listener);
            if (!r.getPidfile().isEmpty()) {
                writePidfile(Path.of(r.getPidfile()), outcome.restoredPid());
            }
            events.restoreFinished(true, outcome.duration());
            Optional<dev.ferry.protocol.control.CriuStats> stats = CriuStatsFile.read(outcome.workDir());
            LOG.info(() -> "snapshot " + name + ": restored, pid " + outcome.restoredPid() + ", "
                    + outcome.bytesServed() + " bytes served in " + outcome.duration().toMillis() + " ms"
                    + stats.filter(st -> st.hasRestore()).map(st -> "; CRIU's restore took "
                            + st.getRestore().getRestoreTimeUs() / 1000 + " ms").orElse(""));
            if (!r.getKeep()) {
                store.drop(snapshot);
            } else {
                store.finishRestore(snapshot);
            }
            Result.Builder done = Results.success("restored " + name + " as pid " + outcome.restoredPid());
            stats.ifPresent(done::setCriuStats);
            JobTerminal terminal = outcome.terminal();
            if (terminal != null) {
                LOG.info(() -> "snapshot " + name + ": pid " + outcome.restoredPid() + " runs on " + terminal.slave()
                        + ", its output goes to " + terminal.log());
                done.setTerminal(terminal.slave().toString()).setTerminalLog(terminal.log().toString());
            }
            session.result(done
                    .setRestoredPid(outcome.restoredPid())
                    .setBytes(outcome.bytesServed())
                    .setImages(outcome.imagesServed())
                    .setDurationMillis(outcome.duration().toMillis())
                    .setCriuLogPath(String.valueOf(outcome.logPath()))
                    .build());
        } catch (CriuException e) {
            store.finishRestore(snapshot);
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            LOG.warning(() -> "snapshot " + name + ": restore failed: " + e.getMessage());
            session.result(Results.failure(ExitCode.CRIU_FAILED, "criu restore of " + name + " failed (exit "
                    + e.exitCode() + "); the snapshot stays in the cache for a retry" + CriuHints.advice(e.logExcerpt()))
                    .toBuilder()
                    .addAllCriuLogExcerpt(e.logExcerpt())
                    .setCriuLogPath(String.valueOf(e.logPath()))
                    .setCriuStats(CriuStatsFile.read(e.logPath() == null ? null : e.logPath().getParent())
                            .orElse(dev.ferry.protocol.control.CriuStats.getDefaultInstance()))
                    .build());
        } catch (IOException | RuntimeException e) {
            store.finishRestore(snapshot);
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            LOG.warning(() -> "snapshot " + name + ": restore failed: " + e);
            session.result(Results.failure(ExitCode.FAILURE, "restore of " + name + " failed: " + e.getMessage()
                    + "; the snapshot stays in the cache for a retry"));
        }
    }

    /** Writes the pid to a temp file beside {@code file} and moves it in place, so readers never see half. */
    static void writePidfile(Path file, long pid) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".ferry-pid", ".tmp");
        Files.writeString(tmp, pid + "\n");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
