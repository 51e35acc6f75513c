package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import java.util.Objects;

/**
 * One ferry frame: its type, stream id and payload, without the header bytes.
 *
 * <p>Ownership: a Frame owns one reference to its payload. Whoever holds the frame last releases it
 * ({@link #release()}), or hands it on to a Netty handler that will. {@link FrameDecoder} emits frames
 * whose payload is a retained slice of the bytes received; {@link FrameEncoder} releases the frames it
 * writes. Immutable apart from the payload's reference count and indexes.
 */
public final class Frame extends DefaultByteBufHolder {

    private final FrameType type;
    private final int streamId;

    /**
     * @param streamId the u32 stream id as an int (ids above 2^31-1 read as negative)
     * @param payload  the bytes after the header; the frame takes over one reference to it
     */
    public Frame(FrameType type, int streamId, ByteBuf payload) {
        super(payload);
        this.type = Objects.requireNonNull(type, "type");
        this.streamId = streamId;
    }

    public FrameType type() {
        return type;
    }

    /** 0 for snapshot-level frames, 1 or more for IMAGE_OPEN, IMAGE_DATA and IMAGE_END. */
    public int streamId() {
        return streamId;
    }

    /** The payload; same as {@link #content()}. Not retained for the caller. */
    public ByteBuf payload() {
        return content();
    }

    @Override
    public Frame replace(ByteBuf content) {
        return new Frame(type, streamId, content);
    }

    @Override
    public Frame copy() {
        return (Frame) super.copy();
    }

    @Override
    public Frame duplicate() {
        return (Frame) super.duplicate();
    }

    @Override
    public Frame retainedDuplicate() {
        return (Frame) super.retainedDuplicate();
    }

    @Override
    public Frame retain() {
        super.retain();
        return this;
    }

    @Override
    public Frame retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public Frame touch() {
        super.touch();
        return this;
    }

    @Override
    public Frame touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Frame f && type == f.type && streamId == f.streamId && super.equals(o);
    }

    @Override
    public int hashCode() {
        return (type.hashCode() * 31 + streamId) * 31 + super.hashCode();
    }

    @Override
    public String toString() {
        return "Frame(" + type + ", stream " + Integer.toUnsignedString(streamId) + ", "
                + (refCnt() > 0 ? content().readableBytes() + " bytes)" : "released)");
    }
}
