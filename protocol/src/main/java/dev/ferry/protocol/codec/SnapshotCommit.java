package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.SnapshotName;
import java.util.List;
import java.util.Objects;

/**
 * SNAPSHOT_COMMIT: every image is complete; {@code images} is the manifest the cache verifies before it
 * answers {@link SnapshotAck} or {@link ErrorMessage}. The list is an unmodifiable copy.
 */
public record SnapshotCommit(SnapshotName snapshot, List<ImageDigest> images) implements WireMessage {
    public SnapshotCommit {
        Objects.requireNonNull(snapshot, "snapshot");
        images = List.copyOf(images);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_COMMIT;
    }
}
