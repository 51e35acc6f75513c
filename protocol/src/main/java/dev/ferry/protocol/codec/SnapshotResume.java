package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/** SNAPSHOT_RESUME: the proxy's answer to {@link SnapshotHeld}: the source will end, so resume the held tree. */
public record SnapshotResume(SnapshotName snapshot) implements WireMessage {
    public SnapshotResume {
        Objects.requireNonNull(snapshot, "snapshot");
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_RESUME;
    }
}
