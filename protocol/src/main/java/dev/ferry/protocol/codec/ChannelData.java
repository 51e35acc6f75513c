package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;
import java.util.Objects;

/**
 * CHANNEL_DATA: the next raw bytes of byte channel {@code streamId} (post-copy: CRIU's page-server bytes), either way, without protobuf. Senders put
 * at most {@link dev.ferry.protocol.Wire#MAX_DATA_PAYLOAD} bytes in one message.
 *
 * <p>Ownership: the message owns one reference to {@code data}, and its reference count is that of
 * {@code data}. Whoever receives it owns it and must {@link #release()} it (or hand it on to a Netty
 * handler that will): the tunnel writes the bytes to its local socket and releases. From
 * {@link WireMessageDecoder}, {@code data} is a slice of the received socket bytes, not a copy, so holding
 * it holds that memory.
 */
public record ChannelData(int streamId, ByteBuf data) implements WireMessage, ReferenceCounted {
    public ChannelData {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(data, "data");
    }

    @Override
    public FrameType type() {
        return FrameType.CHANNEL_DATA;
    }

    @Override
    public int refCnt() {
        return data.refCnt();
    }

    @Override
    public ChannelData retain() {
        data.retain();
        return this;
    }

    @Override
    public ChannelData retain(int increment) {
        data.retain(increment);
        return this;
    }

    @Override
    public ChannelData touch() {
        data.touch();
        return this;
    }

    @Override
    public ChannelData touch(Object hint) {
        data.touch(hint);
        return this;
    }

    @Override
    public boolean release() {
        return data.release();
    }

    @Override
    public boolean release(int decrement) {
        return data.release(decrement);
    }

    @Override
    public String toString() {
        return "ChannelData[streamId=" + streamId + ", "
                + (data.refCnt() > 0 ? data.readableBytes() + " bytes]" : "released]");
    }
}
