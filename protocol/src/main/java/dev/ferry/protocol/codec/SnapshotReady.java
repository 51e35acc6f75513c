package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * SNAPSHOT_READY: the cache accepted SNAPSHOT_BEGIN; the proxy may now freeze the source and stream.
 *
 * @param token the secret a SNAPSHOT_REATTACH of this snapshot must name; 0 when the snapshot is not resumable
 */
public record SnapshotReady(SnapshotName snapshot, long token) implements WireMessage {
    public SnapshotReady {
        Objects.requireNonNull(snapshot, "snapshot");
    }

    /** A snapshot that is not resumable. */
    public SnapshotReady(SnapshotName snapshot) {
        this(snapshot, 0);
    }

    @Override
    public String toString() {
        return "SnapshotReady[snapshot=" + snapshot + ", token=" + (token == 0 ? "none" : "(hidden)") + "]";
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_READY;
    }
}
