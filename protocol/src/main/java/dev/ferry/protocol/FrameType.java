package dev.ferry.protocol;

/**
 * The type byte of a ferry frame (see {@link dev.ferry.protocol.codec.FrameDecoder} for the layout and
 * docs/wire-format.md for the session). Frames of an unknown type are refused, never skipped.
 */
public enum FrameType {
    /** First frame from the proxy: protocol version, node name, largest frame it accepts. Stream 0. */
    HELLO(0x01),
    /** The cache's answer to HELLO. Stream 0. */
    HELLO_ACK(0x02),
    /** A snapshot is about to be written on this connection. Stream 0. */
    SNAPSHOT_BEGIN(0x03),
    /** Opens an image stream; its stream id names the image from now on. Stream >= 1. */
    IMAGE_OPEN(0x04),
    /** Raw image bytes of one stream, no protobuf. Stream >= 1. */
    IMAGE_DATA(0x05),
    /** The image of this stream is complete: size and CRC32C. Stream >= 1. */
    IMAGE_END(0x06),
    /** Every image is complete: the manifest, to be verified by the cache. Stream 0. */
    SNAPSHOT_COMMIT(0x07),
    /** The cache holds the snapshot, verified. Stream 0. */
    SNAPSHOT_ACK(0x08),
    /** The sender gives up on the snapshot. Stream 0. */
    SNAPSHOT_ABORT(0x09),
    /** An {@link ErrorCode} and a short text for humans. Stream 0. */
    ERROR(0x0A),
    /** The cache accepted SNAPSHOT_BEGIN (name free, size fits): the proxy may start CRIU. Stream 0. */
    SNAPSHOT_READY(0x0B),
    /** A migrated snapshot was restored on the target and runs there (answer to its commit). Stream 0. */
    SNAPSHOT_RESTORED(0x0C),
    /**
     * A migrated snapshot was restored on the target and is held there before it resumes (CRIU's post-restore;
     * the network still locked): the proxy answers SNAPSHOT_RESUME, or the tree is killed unrun. Stream 0.
     */
    SNAPSHOT_HELD(0x0D),
    /** The proxy's answer to SNAPSHOT_HELD: the source will end, so the target resumes its tree. Stream 0. */
    SNAPSHOT_RESUME(0x0E),
    /** How many bytes of its image streams the cache holds, for the proxy's resend window. Stream 0. */
    RECEIVED(0x0F),
    /** On a new connection: continue a snapshot whose connection dropped (name, resume token). Stream 0. */
    SNAPSHOT_REATTACH(0x10),
    /** The cache's answer to SNAPSHOT_REATTACH: the images it holds and their sizes. Stream 0. */
    SNAPSHOT_REATTACHED(0x11),
    /** The cache opens a byte channel (post-copy: CRIU's page-server connection) on this stream id. Stream >= 1. */
    CHANNEL_OPEN(0x12),
    /** Raw bytes of one channel, either way, no protobuf. Stream >= 1. */
    CHANNEL_DATA(0x13),
    /** The sender sends no more bytes on this channel, with how its end finished. Stream >= 1. */
    CHANNEL_CLOSE(0x14);

    private static final FrameType[] BY_WIRE = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_WIRE[t.wire] = t;
        }
    }

    private final int wire;

    FrameType(int wire) {
        this.wire = wire;
    }

    /** The value of the type byte. */
    public int wire() {
        return wire;
    }

    /** True for the frames that carry a stream id of 1 or more (IMAGE_OPEN, IMAGE_DATA, IMAGE_END). */
    public boolean isImageStream() {
        return this == IMAGE_OPEN || this == IMAGE_DATA || this == IMAGE_END;
    }

    /** True for the frames of a byte channel (CHANNEL_OPEN, CHANNEL_DATA, CHANNEL_CLOSE): stream ids of their own, >= 1. */
    public boolean isChannel() {
        return this == CHANNEL_OPEN || this == CHANNEL_DATA || this == CHANNEL_CLOSE;
    }

    /**
     * The frame type of a type byte.
     *
     * @throws ProtocolException with {@link ErrorCode#UNKNOWN_FRAME_TYPE} when no type has that value
     */
    public static FrameType fromWire(int wire) {
        FrameType t = wire >= 0 && wire < BY_WIRE.length ? BY_WIRE[wire] : null;
        if (t == null) {
            throw new ProtocolException(ErrorCode.UNKNOWN_FRAME_TYPE, String.format(
                    "frame type: 0x%02X (expected: 0x01 to 0x%02X in protocol v%d); upgrade ferry on both nodes to the same version",
                    wire, values()[values().length - 1].wire(), Wire.VERSION));
        }
        return t;
    }
}
