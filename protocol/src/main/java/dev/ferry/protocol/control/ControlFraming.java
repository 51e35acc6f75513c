package dev.ferry.protocol.control;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The framing of the local control socket between the {@code ferry} CLI and its daemon: each message is a
 * u32 big-endian length followed by that many bytes of protobuf (control.proto).
 *
 * <pre>
 * +----------------+--------------------------+
 * | length: u32 BE | protobuf (length bytes)  |
 * +----------------+--------------------------+
 * </pre>
 *
 * Blocking; the streams stay the caller's (never closed here). One reader and one writer per stream at
 * a time. Refusals are {@link ProtocolException}s (unchecked) next to the {@link IOException}s of the
 * stream itself.
 */
public final class ControlFraming {

    /** The longest message accepted, in bytes (1 MiB); a longer one is refused on both sides. */
    public static final int MAX_MESSAGE = 1 << 20;

    private ControlFraming() {
    }

    /**
     * Writes {@code m} with its length in one {@code write}, then flushes.
     *
     * @throws ProtocolException with {@link ErrorCode#PROTOCOL_ERROR} when {@code m} is longer than
     *                           {@link #MAX_MESSAGE} (nothing is written)
     */
    public static void write(OutputStream out, MessageLite m) throws IOException {
        int size = m.getSerializedSize();
        if (size > MAX_MESSAGE) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "control message length: " + size
                    + " (expected: <= " + MAX_MESSAGE + "); shorten what it carries (log excerpt, message)");
        }
        byte[] buf = new byte[4 + size];
        buf[0] = (byte) (size >>> 24);
        buf[1] = (byte) (size >>> 16);
        buf[2] = (byte) (size >>> 8);
        buf[3] = (byte) size;
        CodedOutputStream cos = CodedOutputStream.newInstance(buf, 4, size);
        m.writeTo(cos);
        cos.checkNoSpaceLeft();
        out.write(buf);
        out.flush();
    }

    /**
     * Reads one message, blocking until it is complete.
     *
     * @return the message, or null when the stream ends cleanly before a length (the peer is done)
     * @throws ProtocolException with {@link ErrorCode#PROTOCOL_ERROR} when the stream ends inside a
     *                           message, the length is above {@link #MAX_MESSAGE}, or the bytes do not parse
     */
    public static <T> T read(InputStream in, Parser<T> parser) throws IOException {
        byte[] header = in.readNBytes(4);
        if (header.length == 0) {
            return null;
        }
        if (header.length < 4) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "control message: stream ended after "
                    + header.length + " bytes of the length (expected: 4 bytes of length); did the peer crash?");
        }
        long length = ((header[0] & 0xffL) << 24) | ((header[1] & 0xff) << 16) | ((header[2] & 0xff) << 8)
                | (header[3] & 0xff);
        if (length > MAX_MESSAGE) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "control message length: " + length
                    + " (expected: <= " + MAX_MESSAGE + "); is the peer a ferry of the same version?");
        }
        byte[] body = in.readNBytes((int) length);
        if (body.length < length) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "control message: stream ended after "
                    + body.length + " of " + length + " bytes (expected: the whole message); did the peer crash?");
        }
        try {
            return parser.parseFrom(body);
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "control message: " + length
                    + " bytes that do not parse (" + e.getMessage()
                    + ") (expected: a control.proto message); is the peer a ferry of the same version?", e);
        }
    }
}
