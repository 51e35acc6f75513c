package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import java.util.List;
import java.util.Objects;

/**
 * RECEIVED: how many bytes of each listed image stream the cache holds, sent (coalesced) only for a resumable
 * snapshot. The proxy forgets the bytes it kept for a resend below those offsets.
 */
public record Received(List<StreamOffset> streams) implements WireMessage {
    public Received {
        streams = List.copyOf(Objects.requireNonNull(streams, "streams"));
    }

    /** Bytes {@code [0, offset)} of the image on {@code streamId} are held by the cache. */
    public record StreamOffset(int streamId, long offset) {
        public StreamOffset {
            Messages.requireImageStream(streamId);
            Messages.requireNotNegative("offset", offset);
        }
    }

    @Override
    public FrameType type() {
        return FrameType.RECEIVED;
    }
}
