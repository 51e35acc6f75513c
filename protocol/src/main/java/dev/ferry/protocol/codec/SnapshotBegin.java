package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;
import java.util.Objects;

/**
 * SNAPSHOT_BEGIN: a new snapshot is about to be written on this connection.
 *
 * @param expectedBytes estimate from the source's memory accounting, 0 when unknown; lets the cache
 *                      refuse what it cannot hold before the source is frozen for nothing
 * @param sourcePid     the dumped root pid on the source, for logs
 * @param criuVersion   the source's CRIU version ("" when not told)
 * @param migrate       what a migration asks of the target, or null for a plain dump
 * @param retryForMillis how long the cache keeps the partial snapshot after its connection drops, waiting for a
 *                      SNAPSHOT_REATTACH; 0 = dropped at once
 * @param lazyPages     {@code ferry dump --lazy}: the pages stay on the source for a later {@code ferry restore --lazy};
 *                      never with {@code migrate}, which says so in its own spec
 * @param lazyTimeoutMillis with {@code lazyPages}: how long the source waits for that restore to begin, and then for
 *                      the last page; 0 otherwise
 */
public record SnapshotBegin(SnapshotName snapshot, long expectedBytes, long sourcePid, String criuVersion,
                            MigrateSpec migrate, long retryForMillis, boolean lazyPages, long lazyTimeoutMillis)
        implements WireMessage {
    public SnapshotBegin {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("expected bytes", expectedBytes);
        Messages.requireNotNegative("source pid", sourcePid);
        Objects.requireNonNull(criuVersion, "criuVersion");
        Messages.requireNotNegative("retry for millis", retryForMillis);
        Messages.requireNotNegative("lazy timeout millis", lazyTimeoutMillis);
        if (lazyPages && migrate != null) {
            throw new IllegalArgumentException("lazy pages: a migration says so in its MigrateSpec, not in SNAPSHOT_BEGIN");
        }
    }

    /** A snapshot whose pages all cross as images (a plain dump or a migration). */
    public SnapshotBegin(SnapshotName snapshot, long expectedBytes, long sourcePid, String criuVersion,
                         MigrateSpec migrate, long retryForMillis) {
        this(snapshot, expectedBytes, sourcePid, criuVersion, migrate, retryForMillis, false, 0);
    }

    /** A snapshot that is not resumable. */
    public SnapshotBegin(SnapshotName snapshot, long expectedBytes, long sourcePid, String criuVersion,
                         MigrateSpec migrate) {
        this(snapshot, expectedBytes, sourcePid, criuVersion, migrate, 0);
    }

    /** A plain dump's announcement. */
    public SnapshotBegin(SnapshotName snapshot, long expectedBytes, long sourcePid) {
        this(snapshot, expectedBytes, sourcePid, "", null);
    }

    public boolean isMigration() {
        return migrate != null;
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_BEGIN;
    }
}
