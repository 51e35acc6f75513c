package dev.ferry.criu;

import java.io.IOException;

/** CRIU's streamer connection carried something the protocol does not allow (oversized or unparsable message). */
public final class StreamerProtocolException extends IOException {

    private static final long serialVersionUID = 1L;

    public StreamerProtocolException(String message) {
        super(message);
    }

    public StreamerProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
