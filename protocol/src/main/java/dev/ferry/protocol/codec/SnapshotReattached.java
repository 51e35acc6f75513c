package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import java.util.List;
import java.util.Objects;

/**
 * SNAPSHOT_REATTACHED: the cache's answer to SNAPSHOT_REATTACH; the snapshot now belongs to this connection, and
 * {@code images} says what the cache holds of each image it has seen an IMAGE_OPEN for.
 */
public record SnapshotReattached(SnapshotName snapshot, List<HeldImage> images) implements WireMessage {
    public SnapshotReattached {
        Objects.requireNonNull(snapshot, "snapshot");
        images = List.copyOf(Objects.requireNonNull(images, "images"));
    }

    /**
     * One image: {@code size} bytes held; {@code complete} once its IMAGE_END arrived and matched (then
     * {@code streamId} is 0), else the stream stays open under {@code streamId}.
     */
    public record HeldImage(ImageName name, int streamId, long size, boolean complete) {
        public HeldImage {
            Objects.requireNonNull(name, "name");
            Messages.requireNotNegative("stream id", streamId);
            Messages.requireNotNegative("size", size);
        }
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_REATTACHED;
    }
}
