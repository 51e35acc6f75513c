package dev.ferry.protocol.codec;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.ProtocolException;
import java.util.Objects;

/**
 * ERROR: what went wrong, as a code and a short text for humans (never parsed by the receiver).
 *
 * @param snapshot the snapshot concerned, or "" for the connection; a plain string, not validated,
 *                 because a BAD_NAME error may have to echo the bad name
 */
public record ErrorMessage(ErrorCode code, String message, String snapshot) implements WireMessage {
    public ErrorMessage {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(snapshot, "snapshot");
    }

    /** The error to send for a refused frame or message; {@code snapshot} may be "". */
    public static ErrorMessage of(ProtocolException e, String snapshot) {
        return new ErrorMessage(e.code(), String.valueOf(e.getMessage()), snapshot);
    }

    @Override
    public FrameType type() {
        return FrameType.ERROR;
    }
}
