package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * SNAPSHOT_HELD: the target restored a migrated snapshot and holds its tree before it resumes (CRIU's
 * post-restore, the network still locked). The proxy answers {@link SnapshotResume} if the source is still frozen
 * and will end; otherwise the target kills the tree before it ever ran.
 *
 * @param pid root pid of the held tree on the target (0 if CRIU did not say)
 */
public record SnapshotHeld(SnapshotName snapshot, long pid) implements WireMessage {
    public SnapshotHeld {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("held pid", pid);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_HELD;
    }
}
