package dev.ferry.protocol;

/**
 * Constants of ferry's wire protocol v1. The frame layout is drawn in
 * {@link dev.ferry.protocol.codec.FrameDecoder} and in docs/wire-format.md.
 */
public final class Wire {

    /** The protocol version carried in HELLO and HELLO_ACK. */
    public static final int VERSION = 1;

    /** Bytes of the length field that starts every frame (u32, big-endian). */
    public static final int LENGTH_FIELD_LENGTH = 4;

    /** Bytes of the whole frame header: 4 length + 1 type + 1 flags + 4 stream id. */
    public static final int HEADER_LENGTH = 10;

    /** The smallest valid length field: type, flags and stream id, with an empty payload. */
    public static final int MIN_LENGTH = HEADER_LENGTH - LENGTH_FIELD_LENGTH;

    /** Default largest value of the length field a node accepts (no flag yet: both nodes use it). */
    public static final int DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024;

    /**
     * The smallest maximum frame size a node may configure or announce in HELLO; a peer announcing less
     * is refused, so that a sender always has room for data and manifests.
     */
    public static final int MIN_MAX_FRAME_SIZE = 1024;

    /** The most image bytes a sender puts in one IMAGE_DATA frame. */
    public static final int MAX_DATA_PAYLOAD = 1024 * 1024;

    /** The TCP port image-cache listens on unless told otherwise. */
    public static final int DEFAULT_PORT = 27027;

    /** Stream id of the frames that concern the whole snapshot or connection. */
    public static final int SNAPSHOT_STREAM = 0;

    private Wire() {
    }
}
