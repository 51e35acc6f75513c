package dev.ferry.cache;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuSwrk;
import dev.ferry.criu.CriuWorkDir;
import java.io.IOException;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * One {@code criu swrk} with its work dir, started before a post-copy restore needs it. A restore that starts its
 * swrk on the spot pays the start (the launcher, the loader, CRIU's own start: ~5 ms of CPU here) while the source is
 * frozen, on the same two cores where {@code criu lazy-pages} is starting; a spare was started when nothing waited.
 *
 * <p>{@link #take} hands the spare over, or starts one on the spot when there is none (two post-copy restores at
 * once, or the spare died); {@link #refill} starts the next one and is called when a restore has ended, off the
 * frozen path.
 *
 * <p>Ownership: holds at most one spare; what {@link #take} returns belongs to the caller. {@link #close} ends the
 * spare and deletes its work dir (only CRIU's empty output file is in it). Thread-safe.
 */
final class SpareSwrk implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SpareSwrk.class.getName());

    /** A swrk waiting for its request, and the work dir its output goes to, which becomes the restore's. */
    record Ready(Path workDir, CriuSwrk swrk) { }

    private final Criu criu;
    private final Path workRoot;
    private Ready spare;
    private boolean closed;

    SpareSwrk(Criu criu, Path workRoot) {
        this.criu = criu;
        this.workRoot = workRoot;
    }

    Criu criu() {
        return criu;
    }

    /** The spare if it is still alive, else a swrk started now in a new work dir. */
    Ready take() throws IOException {
        Ready r;
        synchronized (this) {
            r = spare;
            spare = null;
        }
        if (r != null && r.swrk().process().isAlive()) {
            return r;
        }
        if (r != null) {
            LOG.warning(() -> "the spare " + r.swrk() + " had exited (" + r.swrk().process().exitValue()
                    + "); starting another");
            discard(r);
        }
        return start();
    }

    /** Starts a spare unless one is ready; a failure only logs (the next {@link #take} starts its own). */
    void refill() {
        synchronized (this) {
            if (spare != null || closed) {
                return;
            }
        }
        Ready r;
        try {
            r = start();
        } catch (IOException | RuntimeException e) {
            LOG.warning(() -> "starting a spare criu swrk failed: " + e.getMessage());
            return;
        }
        boolean keep;
        synchronized (this) {
            keep = spare == null && !closed;
            if (keep) {
                spare = r;
            }
        }
        if (!keep) {
            discard(r);
        }
    }

    private Ready start() throws IOException {
        Path workDir = CriuWorkDir.create(workRoot, "l");
        try {
            return new Ready(workDir, CriuSwrk.start(criu, workDir));
        } catch (IOException | RuntimeException e) {
            CriuWorkDir.delete(workDir);
            throw e;
        }
    }

    private static void discard(Ready r) {
        r.swrk().close();
        CriuWorkDir.delete(r.workDir());
    }

    @Override
    public void close() {
        Ready r;
        synchronized (this) {
            closed = true;
            r = spare;
            spare = null;
        }
        if (r != null) {
            discard(r);
        }
    }
}
