package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/**
 * CHANNEL_DATA: the next raw bytes of byte channel {@code streamId} (post-copy: CRIU's page-server bytes), either way. Reference counted as every {@link PayloadMessage}: the tunnel writes the bytes to its local socket and releases.
 */
public record ChannelData(int streamId, ByteBuf data) implements PayloadMessage {
    public ChannelData {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(data, "data");
    }

    @Override
    public FrameType type() {
        return FrameType.CHANNEL_DATA;
    }

    @Override
    public ChannelData retain() {
        data.retain();
        return this;
    }

    @Override
    public String toString() {
        return PayloadMessage.describe("ChannelData", streamId, data);
    }
}
