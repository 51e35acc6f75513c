package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.image.SnapshotName;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Every snapshot the cache holds, by name; names are unique per cache. Owns the snapshots and, through
 * them, their memory: {@link #drop} and {@link #close} release it (close not while a restore reads it). Thread-safe.
 */
public final class SnapshotStore implements AutoCloseable {

    private final ConcurrentMap<SnapshotName, StoredSnapshot> snapshots = new ConcurrentHashMap<>();
    private final MemoryBudget budget;
    private final ChunkPool chunks;

    public SnapshotStore(MemoryBudget budget) {
        this.budget = budget;
        this.chunks = new ChunkPool(budget.limit());
    }

    public MemoryBudget budget() {
        return budget;
    }

    /** The reusable large chunks of image memory. */
    ChunkPool chunks() {
        return chunks;
    }

    /**
     * Starts receiving a snapshot: reserves its memory ({@link SnapshotMemory#reserve}: the announced size plus a
     * margin, the one admission decision, taken before the source freezes) and refuses a name already held
     * (SNAPSHOT_EXISTS) or a size that does not fit what the other snapshots left of --max-memory (RESOURCE_LIMIT).
     */
    StoredSnapshot begin(SnapshotName name, String source, long expectedBytes) {
        SnapshotMemory memory = SnapshotMemory.reserve(name, budget, expectedBytes);
        StoredSnapshot fresh = new StoredSnapshot(name, source, memory);
        StoredSnapshot old = snapshots.putIfAbsent(name, fresh);
        if (old != null && old.state() == StoredSnapshot.State.BAD && snapshots.replace(name, old, fresh)) {
            return fresh; // a snapshot that failed verification holds no memory: its name may be dumped again
        }
        if (old != null) {
            memory.close();
            throw new ProtocolException(ErrorCode.SNAPSHOT_EXISTS, "snapshot " + name + " already exists ("
                    + old.state() + ") on this image-cache (expected: a new name); pick another name or remove it");
        }
        return fresh;
    }

    /** The snapshot, if it is held and committed (the only state a restore may use). */
    public Optional<StoredSnapshot> committed(SnapshotName name) {
        StoredSnapshot s = snapshots.get(name);
        return s != null && (s.state() == StoredSnapshot.State.COMMITTED || s.state() == StoredSnapshot.State.RESTORING)
                ? Optional.of(s) : Optional.empty();
    }

    public Optional<StoredSnapshot> get(SnapshotName name) {
        return Optional.ofNullable(snapshots.get(name));
    }

    /** Marks a committed snapshot as being restored; false if it is missing, not committed or busy. */
    public synchronized boolean startRestore(StoredSnapshot s) {
        if (snapshots.get(s.name()) != s || s.state() != StoredSnapshot.State.COMMITTED) {
            return false;
        }
        s.state(StoredSnapshot.State.RESTORING);
        return true;
    }

    public synchronized void finishRestore(StoredSnapshot s) {
        if (s.state() == StoredSnapshot.State.RESTORING) {
            s.state(StoredSnapshot.State.COMMITTED);
        }
    }

    /** The snapshot is complete and verified: it becomes restorable, and what it reserved and did not use is freed. */
    synchronized void commit(StoredSnapshot s) {
        s.memory().trim();
        s.state(StoredSnapshot.State.COMMITTED);
    }

    public List<StoredSnapshot> list() {
        return new ArrayList<>(snapshots.values());
    }

    /** Marks a snapshot that failed verification BAD (memory freed, name and reason kept), if it is still held. */
    public boolean markBad(StoredSnapshot s, String reason) {
        if (snapshots.get(s.name()) == s) {
            s.markBad(reason);
            return true;
        }
        return false;
    }

    /** Removes the snapshot and frees its memory, if {@code s} is still the one held under its name. */
    public boolean drop(StoredSnapshot s) {
        if (snapshots.remove(s.name(), s)) {
            s.release();
            return true;
        }
        return false;
    }

    /**
     * Drops {@code s} unless a restore has it (RESTORING: that restore drops it when CRIU is done); under the store's
     * lock, so a restore cannot start on it meanwhile. True if it was dropped here.
     */
    synchronized boolean dropUnlessRestoring(StoredSnapshot s) {
        return s.state() != StoredSnapshot.State.RESTORING && drop(s);
    }

    /** What {@link #remove} did. */
    public record Removal(StoredSnapshot snapshot, boolean removed) {
    }

    /**
     * Removes the snapshot held under {@code name} and frees its memory, unless it is RECEIVING or RESTORING
     * ({@code removed} false, the snapshot named so the caller can say why). Empty if no snapshot has that name.
     * Under the store's lock, so a restore cannot start on it meanwhile.
     */
    public synchronized Optional<Removal> remove(SnapshotName name) {
        StoredSnapshot s = snapshots.get(name);
        if (s == null) {
            return Optional.empty();
        }
        if (s.state() == StoredSnapshot.State.RECEIVING || s.state() == StoredSnapshot.State.RESTORING) {
            return Optional.of(new Removal(s, false));
        }
        return Optional.of(new Removal(s, drop(s)));
    }

    /**
     * Drops every snapshot except those being restored and closes the chunk pool. A RESTORING snapshot is left to
     * its restore, which drops or keeps it once CRIU has exited (its chunks are then freed at once): CRIU's pipes may
     * still reference its memory (vmsplice), so freeing it earlier could let CRIU read reused memory.
     */
    @Override
    public void close() {
        synchronized (this) { // no restore starts between the check and the drop
            for (StoredSnapshot s : list()) {
                if (s.state() != StoredSnapshot.State.RESTORING) {
                    drop(s);
                }
            }
        }
        chunks.close();
    }
}
