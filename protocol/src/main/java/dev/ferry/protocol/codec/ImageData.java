package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;
import java.util.Objects;

/**
 * IMAGE_DATA: the next raw bytes of the image on {@code streamId}, carried without protobuf. Senders put
 * at most {@link dev.ferry.protocol.Wire#MAX_DATA_PAYLOAD} bytes in one message.
 *
 * <p>Ownership: the message owns one reference to {@code data}, and its reference count is that of
 * {@code data}. Whoever receives it owns it and must {@link #release()} it (or hand it on to a Netty
 * handler that will): the cache copies the bytes into its store and releases. From
 * {@link WireMessageDecoder}, {@code data} is a slice of the received socket bytes, not a copy, so holding
 * it holds that memory.
 */
public record ImageData(int streamId, ByteBuf data) implements WireMessage, ReferenceCounted {
    public ImageData {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(data, "data");
    }

    @Override
    public FrameType type() {
        return FrameType.IMAGE_DATA;
    }

    @Override
    public int refCnt() {
        return data.refCnt();
    }

    @Override
    public ImageData retain() {
        data.retain();
        return this;
    }

    @Override
    public ImageData retain(int increment) {
        data.retain(increment);
        return this;
    }

    @Override
    public ImageData touch() {
        data.touch();
        return this;
    }

    @Override
    public ImageData touch(Object hint) {
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
        return "ImageData[streamId=" + streamId + ", "
                + (data.refCnt() > 0 ? data.readableBytes() + " bytes]" : "released]");
    }
}
