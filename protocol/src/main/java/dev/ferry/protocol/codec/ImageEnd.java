package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;

/** IMAGE_END: the image of {@code streamId} is complete; {@code size} and {@code crc32c} cover all its bytes. */
public record ImageEnd(int streamId, long size, int crc32c) implements WireMessage {
    public ImageEnd {
        Messages.requireImageStream(streamId);
        Messages.requireNotNegative("image size", size);
    }

    @Override
    public FrameType type() {
        return FrameType.IMAGE_END;
    }

    @Override
    public String toString() {
        return "ImageEnd[streamId=" + streamId + ", size=" + size + ", crc32c=" + String.format("%08x", crc32c) + "]";
    }
}
