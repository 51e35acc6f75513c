package dev.ferry.protocol;

/**
 * A frame's length field is above the receiver's maximum frame size. Raised from the four length bytes
 * alone, before any of the frame is buffered. Code {@link ErrorCode#FRAME_TOO_LARGE}.
 */
public class FrameTooLargeException extends ProtocolException {

    private static final long serialVersionUID = 1L;

    private final long max;
    private final long actual;

    public FrameTooLargeException(long max, long actual) {
        super(ErrorCode.FRAME_TOO_LARGE,
                "frame length: " + actual + " (expected: <= " + max + "); the peer sends larger frames than this node accepts: run the same ferry version on both nodes");
        this.max = max;
        this.actual = actual;
    }

    /** The largest length field the receiver accepts. */
    public long max() {
        return max;
    }

    /** The length field that arrived. */
    public long actual() {
        return actual;
    }
}
