package dev.ferry.protocol.criu;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The framing of CRIU's image-streamer socket ({@code criu dump|restore --stream}): a u32 length in the
 * host's NATIVE byte order (little-endian on x86-64 and arm64), then the protobuf of img-streamer.proto.
 *
 * <pre>
 * request (CRIU to ferry):  [len u32 native][img_streamer_request_entry { filename = 1 }]
 *                           then 1 byte 0x00 carrying the pipe fd in SCM_RIGHTS (dump, or restore if exists)
 * reply (ferry to CRIU, restore only): [02 00 00 00][08 01] exists, or [02 00 00 00][08 00] does not exist
 * </pre>
 *
 * Only the bytes live here; reading them exactly and receiving the fd is the engines' work (recvmsg).
 * Stateless, thread-safe.
 */
public final class StreamerMessages {

    /** The longest request accepted, in bytes; like criu-image-streamer, a longer one is refused. */
    public static final int MAX_REQUEST = 10 * 1024;

    private StreamerMessages() {
    }

    /**
     * The 6 bytes of a restore reply: length 2 in native order, then {@code 08 01} or {@code 08 00}. The
     * {@code exists} field is always encoded, even when false (proto2 required; CRIU's protobuf-c fails
     * to unpack a reply without it).
     */
    public static byte[] encodeReply(boolean exists) {
        byte[] body = ImgStreamer.img_streamer_reply_entry.newBuilder().setExists(exists).build().toByteArray();
        return ByteBuffer.allocate(4 + body.length).order(ByteOrder.nativeOrder())
                .putInt(body.length).put(body).array();
    }

    /** Parses a restore reply's body (without its length), as CRIU does; for tests that play CRIU. */
    public static boolean decodeReply(byte[] body) {
        try {
            return ImgStreamer.img_streamer_reply_entry.parseFrom(body).getExists();
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "streamer reply: " + body.length
                    + " bytes that do not parse (" + e.getMessage() + ") (expected: img_streamer_reply_entry)", e);
        }
    }

    /**
     * A request as CRIU sends it (length in native order, then the protobuf), positioned at 0 and ready
     * to be read; for tests that play CRIU.
     */
    public static ByteBuffer encodeRequest(String filename) {
        byte[] body = ImgStreamer.img_streamer_request_entry.newBuilder().setFilename(filename).build().toByteArray();
        return ByteBuffer.allocate(4 + body.length).order(ByteOrder.nativeOrder())
                .putInt(body.length).put(body).flip();
    }

    /**
     * The image file name of a request's body (the bytes after the length).
     *
     * @throws ProtocolException with {@link ErrorCode#PROTOCOL_ERROR} when the body is not an
     *                           img_streamer_request_entry with its filename
     */
    public static String decodeRequest(byte[] body) {
        try {
            return ImgStreamer.img_streamer_request_entry.parseFrom(body).getFilename();
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "streamer request: " + body.length
                    + " bytes that do not parse (" + e.getMessage()
                    + ") (expected: img_streamer_request_entry with a filename); is CRIU the peer on this socket?", e);
        }
    }

    /**
     * The length in the first 4 bytes of a message, in native byte order.
     *
     * @throws ProtocolException with {@link ErrorCode#PROTOCOL_ERROR} when the length is above
     *                           {@link #MAX_REQUEST}
     */
    public static int decodeLength(byte[] four) {
        if (four.length != 4) {
            throw new IllegalArgumentException("length bytes: " + four.length + " (expected: 4)");
        }
        long length = Integer.toUnsignedLong(ByteBuffer.wrap(four).order(ByteOrder.nativeOrder()).getInt());
        if (length > MAX_REQUEST) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "streamer message length: " + length
                    + " (expected: <= " + MAX_REQUEST + ", byte order " + ByteOrder.nativeOrder()
                    + "); is CRIU the peer on this socket?");
        }
        return (int) length;
    }
}
