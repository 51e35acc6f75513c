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
 */
public record SnapshotBegin(SnapshotName snapshot, long expectedBytes, long sourcePid, String criuVersion,
                            MigrateSpec migrate, long retryForMillis) implements WireMessage {
    public SnapshotBegin {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("expected bytes", expectedBytes);
        Messages.requireNotNegative("source pid", sourcePid);
        Objects.requireNonNull(criuVersion, "criuVersion");
        Messages.requireNotNegative("retry for millis", retryForMillis);
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
