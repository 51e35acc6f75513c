package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.image.SnapshotName;

/**
 * One snapshot's share of the {@link MemoryBudget}. It is reserved whole at SNAPSHOT_BEGIN, before the source is
 * frozen: the size the source announced (its process tree's resident memory, which bounds what CRIU dumps of it) plus
 * {@link #margin} for the cache's own rounding (every image's last chunk is partly empty, small images take 64 KiB).
 * That is the one admission decision: a snapshot that does not fit is refused there and its source never freezes.
 *
 * <p>The snapshot's images take their chunks out of the reservation. A snapshot that outgrows it (the estimate was
 * wrong) grows into the budget's free memory, never into what other snapshots reserved; when none is left, the take is
 * refused with RESOURCE_LIMIT, which fails this snapshot alone (its migration rolls back, the source resumes). At the
 * commit the unused rest goes back to the budget ({@link #trim}); {@link #close} gives back all that is left.
 * Thread-safe: images take on their connection's event loop, release may come from a restore thread.
 */
final class SnapshotMemory implements ImageMemory {

    /** Reserved on top of the announced size, for chunk rounding and the small images. */
    static final long MARGIN_BYTES = 8L << 20;

    private final SnapshotName name;
    private final MemoryBudget budget;
    private final long announced;
    private long reserved;
    private long taken;

    private SnapshotMemory(SnapshotName name, MemoryBudget budget, long announced, long reserved) {
        this.name = name;
        this.budget = budget;
        this.announced = announced;
        this.reserved = reserved;
    }

    /** What is reserved at SNAPSHOT_BEGIN for a snapshot announced at {@code expectedBytes}: 0 when unknown. */
    static long reservationFor(long expectedBytes) {
        return expectedBytes <= 0 ? 0 : expectedBytes + margin(expectedBytes);
    }

    static long margin(long expectedBytes) {
        return MARGIN_BYTES + expectedBytes / 64;
    }

    /**
     * Reserves {@link #reservationFor} of {@code expectedBytes}, or throws RESOURCE_LIMIT naming --max-memory and what
     * holds the budget now, leaving it unchanged.
     */
    static SnapshotMemory reserve(SnapshotName name, MemoryBudget budget, long expectedBytes) {
        long bytes = reservationFor(expectedBytes);
        if (!budget.tryReserveAhead(bytes)) {
            throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "snapshot " + name + ": about " + expectedBytes
                    + " bytes expected (" + bytes + " with the cache's margin), " + budget.free() + " of "
                    + budget.limit() + " bytes free (expected: fits in --max-memory " + budget.limit() + "); raise"
                    + " --max-memory on the image-cache, wait for the migrations it is receiving, or remove"
                    + " snapshots with 'ferry images rm'");
        }
        return new SnapshotMemory(name, budget, expectedBytes, bytes);
    }

    @Override
    public synchronized void take(long bytes) {
        long fromReserve = Math.min(bytes, reserved - taken);
        long grow = bytes - fromReserve;
        if (grow > 0 && !budget.tryReserve(grow)) {
            throw new ProtocolException(ErrorCode.RESOURCE_LIMIT, "snapshot " + name + " outgrew its reservation: "
                    + (taken + bytes) + " bytes needed, " + reserved + " reserved at SNAPSHOT_BEGIN for about "
                    + announced + " bytes announced, " + budget.free() + " of " + budget.limit() + " bytes free"
                    + " (expected: <= --max-memory " + budget.limit() + "); this snapshot is dropped and others"
                    + " are not touched; raise --max-memory on the image-cache");
        }
        budget.takeAhead(fromReserve);
        reserved += grow;
        taken += bytes;
    }

    @Override
    public synchronized void give(long bytes) {
        taken -= bytes;
        reserved -= bytes;
        budget.free(bytes);
    }

    /** Gives the reserved bytes no image took back to the budget (at the commit: the snapshot is complete). */
    synchronized void trim() {
        long spare = reserved - taken;
        if (spare > 0) {
            budget.freeAhead(spare);
            reserved = taken;
        }
    }

    /** Bytes reserved now (taken plus spare). */
    synchronized long reserved() {
        return reserved;
    }

    /** Gives back the spare reservation; what images took they give back when they are released. Idempotent. */
    void close() {
        trim();
    }
}
