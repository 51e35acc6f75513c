package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.ImageName;
import java.util.Objects;

/** IMAGE_OPEN: from now on {@code streamId} (1 or more) carries the bytes of image {@code name}. */
public record ImageOpen(int streamId, ImageName name) implements WireMessage {
    public ImageOpen {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(name, "name");
    }

    @Override
    public FrameType type() {
        return FrameType.IMAGE_OPEN;
    }
}
