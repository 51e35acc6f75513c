package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/** SNAPSHOT_READY: the cache accepted SNAPSHOT_BEGIN; the proxy may now freeze the source and stream. */
public record SnapshotReady(SnapshotName snapshot) implements WireMessage {
    public SnapshotReady {
        Objects.requireNonNull(snapshot, "snapshot");
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_READY;
    }
}
