package dev.ferry.restore;

import dev.ferry.protocol.image.SnapshotName;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The terminals of the shell jobs one daemon restored: opens them, with their logs in one directory
 * ({@code <dir>/<snapshot>-<restore id>.log}), and closes whatever is still open when the daemon stops.
 *
 * <p>Ownership: owns every {@link JobTerminal} it opened until that terminal closes itself (its tree exited) or
 * {@link #close()} closes it. Thread-safety: safe from any thread.
 */
public final class JobTerminals implements AutoCloseable {

    private final Path dir;
    private final Set<JobTerminal> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** @param dir where the terminal logs go; created on first use */
    public JobTerminals(Path dir) {
        this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath();
    }

    public Path dir() {
        return dir;
    }

    /**
     * Opens a terminal for one restore of {@code snapshot}; {@code restoreId} (the restore's work dir name) keeps
     * two restores of one name apart.
     *
     * @throws IOException if no pseudo-terminal could be opened, or this registry is closed
     */
    public JobTerminal open(SnapshotName snapshot, String restoreId) throws IOException {
        if (closed) {
            throw new IOException("the daemon is stopping; no terminal for a restore of " + snapshot);
        }
        String stem = snapshot.value() + "-" + restoreId;
        JobTerminal t = JobTerminal.open(dir.resolve(stem + ".log"), "ferry-terminal-" + stem, open::remove);
        open.add(t);
        if (!t.isOpen()) {
            open.remove(t); // it ended before it was listed
        }
        if (closed) {
            t.close();
        }
        return t;
    }

    /** The terminals still open. */
    public List<JobTerminal> openTerminals() {
        return List.copyOf(open);
    }

    /** Closes every open terminal (their jobs see a hang-up) and refuses new ones; idempotent. */
    @Override
    public void close() {
        closed = true;
        for (JobTerminal t : List.copyOf(open)) {
            t.close();
        }
    }
}
