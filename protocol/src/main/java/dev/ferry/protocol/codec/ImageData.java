package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/**
 * IMAGE_DATA: the next raw bytes of the image on {@code streamId}. Reference counted as every {@link PayloadMessage}: the cache copies the bytes into its store and releases.
 */
public record ImageData(int streamId, ByteBuf data) implements PayloadMessage {
    public ImageData {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(data, "data");
    }

    @Override
    public FrameType type() {
        return FrameType.IMAGE_DATA;
    }

    @Override
    public ImageData retain() {
        data.retain();
        return this;
    }

    @Override
    public String toString() {
        return PayloadMessage.describe("ImageData", streamId, data);
    }
}
