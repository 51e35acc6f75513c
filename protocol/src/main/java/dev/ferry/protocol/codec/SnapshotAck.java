package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/** SNAPSHOT_ACK: the cache holds the snapshot, verified; it may be restored. */
public record SnapshotAck(SnapshotName snapshot, long bytes, int images) implements WireMessage {
    public SnapshotAck {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("snapshot bytes", bytes);
        Messages.requireNotNegative("image count", images);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_ACK;
    }
}
