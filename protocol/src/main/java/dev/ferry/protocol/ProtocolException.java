package dev.ferry.protocol;

import java.util.Optional;

/**
 * A peer broke ferry's wire rules, or a message cannot be accepted; carries the {@link ErrorCode} to send
 * back in an ERROR frame. The message says what was expected and what was found.
 *
 * <p>Unchecked, so that it can leave Netty's {@code decode} methods. Netty's decoders wrap it in a
 * {@link io.netty.handler.codec.DecoderException} (encoders in an {@code EncoderException}) before it
 * reaches {@code exceptionCaught}; use {@link #findIn(Throwable)} there to get it back.
 */
public class ProtocolException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    public ProtocolException(ErrorCode code, String message) {
        this(code, message, null);
    }

    public ProtocolException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        if (code == null) {
            throw new NullPointerException("code");
        }
        this.code = code;
    }

    /** The code to send to the peer. */
    public ErrorCode code() {
        return code;
    }

    /** The first ProtocolException in the cause chain of {@code t} (including {@code t} itself), if any. */
    public static Optional<ProtocolException> findIn(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof ProtocolException p) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return getClass().getName() + " [" + code + "]: " + getMessage();
    }
}
