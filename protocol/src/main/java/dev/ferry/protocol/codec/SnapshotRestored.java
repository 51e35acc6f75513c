package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * SNAPSHOT_RESTORED: the target restored a migrated snapshot and its tree runs there; the source may now be
 * ended.
 *
 * @param pid           root pid of the restored tree on the target
 * @param restoreMillis how long CRIU's restore took
 * @param bytes         bytes served to CRIU
 */
public record SnapshotRestored(SnapshotName snapshot, long pid, long restoreMillis, long bytes) implements WireMessage {
    public SnapshotRestored {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("restored pid", pid);
        Messages.requireNotNegative("restore millis", restoreMillis);
        Messages.requireNotNegative("bytes", bytes);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_RESTORED;
    }
}
