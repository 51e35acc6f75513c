package dev.ferry.protocol.codec;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameType;
import java.util.Objects;

/**
 * CHANNEL_CLOSE: the sender sends no more bytes on channel {@code streamId}. {@code code} null means its end
 * finished cleanly (from the cache: {@code criu lazy-pages} exited 0, every page arrived); otherwise why not.
 *
 * @param bytes the bytes the sender sent on the channel
 */
public record ChannelClose(int streamId, ErrorCode code, String message, long bytes) implements WireMessage {
    public ChannelClose {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(message, "message");
        Messages.requireNotNegative("bytes", bytes);
    }

    /** Whether the sender's end finished cleanly. */
    public boolean ok() {
        return code == null;
    }

    @Override
    public FrameType type() {
        return FrameType.CHANNEL_CLOSE;
    }
}
