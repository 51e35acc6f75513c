package dev.ferry.protocol;

/**
 * The code of an ERROR frame and of every {@link ProtocolException}. Codes cross the wire; the text next
 * to them is for humans and is never parsed. New codes may be added; a code this version does not know
 * reads as {@link #PROTOCOL_ERROR}.
 */
public enum ErrorCode {
    /** The peer broke the frame or message rules (bad length, flags, stream id, protobuf). */
    PROTOCOL_ERROR(1, ExitCode.PEER_UNREACHABLE),
    /** The peers speak different protocol versions. */
    UNSUPPORTED_VERSION(2, ExitCode.REFUSED),
    /** A frame's length field is above the receiver's maximum frame size. */
    FRAME_TOO_LARGE(3, ExitCode.REFUSED),
    /** A frame's type byte is not one of {@link FrameType}. */
    UNKNOWN_FRAME_TYPE(4, ExitCode.REFUSED),
    /** A snapshot or image name is not valid (path tricks, bad characters, too long). */
    BAD_NAME(5, ExitCode.REFUSED),
    /** The cache already holds a snapshot of that name. */
    SNAPSHOT_EXISTS(6, ExitCode.REFUSED),
    /** IMAGE_DATA or IMAGE_END for a stream id that is not open. */
    UNKNOWN_STREAM(7, ExitCode.PEER_UNREACHABLE),
    /** IMAGE_OPEN for an image name or stream id already used in the snapshot. */
    DUPLICATE_IMAGE(8, ExitCode.REFUSED),
    /** An image's size or CRC32C does not match what arrived. */
    INTEGRITY(9, ExitCode.INTEGRITY),
    /** The commit's manifest does not list exactly the images that arrived. */
    MANIFEST_MISMATCH(10, ExitCode.INTEGRITY),
    /** No committed snapshot of that name. */
    NO_SUCH_SNAPSHOT(11, ExitCode.NOT_FOUND),
    /** The receiver cannot hold this (memory limit, too many streams or snapshots). */
    RESOURCE_LIMIT(12, ExitCode.REFUSED),
    /** The peer failed for a reason of its own; see its log. */
    INTERNAL(13, ExitCode.FAILURE),
    /** The snapshot was given up (SNAPSHOT_ABORT, shutdown). */
    ABORTED(14, ExitCode.FAILURE),
    /** A valid frame that is not allowed now (IMAGE_OPEN before SNAPSHOT_BEGIN, a second HELLO, ...). */
    UNEXPECTED_FRAME(15, ExitCode.PEER_UNREACHABLE),
    /** A migration's preflight failed on the target (CRIU version or check, address in use); nothing was frozen. */
    PREFLIGHT_FAILED(16, ExitCode.REFUSED),
    /** The target's restore of a migrated snapshot failed; the source is resumed. */
    RESTORE_FAILED(17, ExitCode.CRIU_FAILED),
    /** A SNAPSHOT_REATTACH with the wrong resume token, from another peer, or for a snapshot that is not resumable. */
    REATTACH_REFUSED(18, ExitCode.PEER_UNREACHABLE);

    private final int wire;
    private final ExitCode exitCode;

    ErrorCode(int wire, ExitCode exitCode) {
        this.wire = wire;
        this.exitCode = exitCode;
    }

    /** The value carried in the ERROR frame's {@code code} field. */
    public int wire() {
        return wire;
    }

    /** The exit code a command ends with when its snapshot failed with this code. */
    public ExitCode exitCode() {
        return exitCode;
    }

    /** The code of a wire value; an unknown value (a newer peer) reads as {@link #PROTOCOL_ERROR}. Never throws. */
    public static ErrorCode fromWire(int wire) {
        for (ErrorCode c : values()) {
            if (c.wire == wire) {
                return c;
            }
        }
        return PROTOCOL_ERROR;
    }
}
