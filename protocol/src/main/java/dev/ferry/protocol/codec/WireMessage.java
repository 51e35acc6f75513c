package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.Wire;

/**
 * A decoded ferry frame: one small immutable record per {@link FrameType}. {@link WireMessageDecoder}
 * makes them from frames, {@link WireMessageEncoder} makes frames from them.
 *
 * <p>Only the {@link PayloadMessage}s ({@link ImageData}, {@link ChannelData}) hold a buffer and are reference
 * counted; the others hold plain values.
 */
public sealed interface WireMessage
        permits Hello, HelloAck, SnapshotBegin, ImageOpen, PayloadMessage, ImageEnd,
                SnapshotCommit, SnapshotAck, SnapshotAbort, ErrorMessage, SnapshotReady,
                SnapshotRestored, SnapshotHeld, SnapshotResume, Received, SnapshotReattach, SnapshotReattached,
                ChannelOpen, ChannelClose {

    /** The frame type that carries this message. */
    FrameType type();

    /** The frame's stream id: 0 for snapshot-level messages, the image stream's id for image messages. */
    default int streamId() {
        return Wire.SNAPSHOT_STREAM;
    }
}
