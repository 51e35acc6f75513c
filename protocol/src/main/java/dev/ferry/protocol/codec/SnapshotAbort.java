package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/** SNAPSHOT_ABORT: the sender gives up on the snapshot; the cache drops what it holds of it. */
public record SnapshotAbort(SnapshotName snapshot, String reason) implements WireMessage {
    public SnapshotAbort {
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(reason, "reason");
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_ABORT;
    }
}
