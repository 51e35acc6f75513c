package dev.ferry.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * A wire message that carries raw bytes, without protobuf: IMAGE_DATA ({@link ImageData}) and CHANNEL_DATA
 * ({@link ChannelData}). Senders put at most {@link dev.ferry.protocol.Wire#MAX_DATA_PAYLOAD} bytes in one.
 *
 * <p>Ownership: the message owns one reference to {@link #data()}, and its reference count is that of the buffer.
 * Whoever receives it owns it and must {@link #release()} it (or hand it on to a Netty handler that will). From
 * {@link WireMessageDecoder}, the buffer is a slice of the received socket bytes, not a copy, so holding it holds
 * that memory.
 */
public sealed interface PayloadMessage extends WireMessage, ReferenceCounted permits ImageData, ChannelData {

    /** The stream (image) or channel the bytes belong to. */
    int streamId();

    /** The bytes. */
    ByteBuf data();

    @Override
    default int refCnt() {
        return data().refCnt();
    }

    @Override
    default PayloadMessage retain() {
        data().retain();
        return this;
    }

    @Override
    default PayloadMessage retain(int increment) {
        data().retain(increment);
        return this;
    }

    @Override
    default PayloadMessage touch() {
        data().touch();
        return this;
    }

    @Override
    default PayloadMessage touch(Object hint) {
        data().touch(hint);
        return this;
    }

    @Override
    default boolean release() {
        return data().release();
    }

    @Override
    default boolean release(int decrement) {
        return data().release(decrement);
    }

    /** {@code Name[streamId=N, B bytes]}, or {@code released} once the buffer is. */
    static String describe(String name, int streamId, ByteBuf data) {
        return name + "[streamId=" + streamId + ", "
                + (data.refCnt() > 0 ? data.readableBytes() + " bytes]" : "released]");
    }
}
