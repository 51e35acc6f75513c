package dev.ferry.protocol.codec;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameTooLargeException;
import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.Wire;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the bytes of a connection into {@link Frame}s. Every frame starts with this header, all
 * integers big-endian:
 *
 * <pre>
 *   0      3   4      5      6           9  10
 * +---------+------+-------+-------------+---------------------------+
 * | length  | type | flags |  stream id  | payload                   |
 * | u32 BE  |  u8  |  u8   |   u32 BE    | (length - 6 bytes)        |
 * +---------+------+-------+-------------+---------------------------+
 *
 * length    = bytes after the length field = 6 + payload length, so &gt;= 6, and &lt;= maxFrameSize
 * type      = FrameType wire value (0x01 HELLO ... 0x0A ERROR)
 * flags     = 0 in protocol v1 (reserved for compression)
 * stream id = 0 for snapshot-level frames, &gt;= 1 for IMAGE_OPEN / IMAGE_DATA / IMAGE_END
 *
 * BEFORE DECODE (21 bytes)                         AFTER DECODE
 * +-------------+----+----+-------------+-------+     Frame(IMAGE_DATA, stream 3,
 * | 00 00 00 11 | 05 | 00 | 00 00 00 03 | 11 B  |---&gt;       payload = 11 bytes)
 * +-------------+----+----+-------------+-------+
 * </pre>
 *
 * <p>Checks, in this order, as soon as the bytes that carry them arrive: a length above
 * {@code maxFrameSize} raises {@link FrameTooLargeException} from the four length bytes alone, before
 * anything of the frame is buffered; a length below 6 raises {@link ProtocolException} with
 * {@link ErrorCode#PROTOCOL_ERROR}; an unknown type byte {@link ErrorCode#UNKNOWN_FRAME_TYPE}; non-zero
 * flags {@link ErrorCode#PROTOCOL_ERROR}. The stream id rules are checked by {@link WireMessageDecoder},
 * which knows the frame types' meaning.
 *
 * <p>After a decode error the connection's byte stream cannot be trusted: this decoder discards all
 * further input and emits nothing more. Netty's {@link ByteToMessageDecoder} delivers the error to
 * {@code exceptionCaught} as a {@link io.netty.handler.codec.DecoderException} whose cause is the
 * {@link ProtocolException}; the handler should send an ERROR frame and close the connection.
 *
 * <p>Ownership: each emitted frame's payload is a retained slice of the received bytes (no copy); the
 * next handler owns the frame and must release it. A frame cut short by the end of the connection is
 * dropped without being emitted, and its bytes are released. One instance per channel (not sharable).
 */
public class FrameDecoder extends ByteToMessageDecoder {

    private final int maxFrameSize;
    private boolean failed;

    /** A decoder that accepts length fields up to {@link Wire#DEFAULT_MAX_FRAME_SIZE}. */
    public FrameDecoder() {
        this(Wire.DEFAULT_MAX_FRAME_SIZE);
    }

    /**
     * @param maxFrameSize the largest length field accepted, at least {@link Wire#MIN_MAX_FRAME_SIZE}
     */
    public FrameDecoder(int maxFrameSize) {
        if (maxFrameSize < Wire.MIN_MAX_FRAME_SIZE) {
            throw new IllegalArgumentException("max frame size: " + maxFrameSize
                    + " (expected: >= " + Wire.MIN_MAX_FRAME_SIZE + ")");
        }
        this.maxFrameSize = maxFrameSize;
        // IMAGE_DATA frames are up to 1 MiB: keep the socket reads as components instead of copying
        // each one into one growing buffer; payload slices then point into the reads themselves.
        setCumulator(COMPOSITE_CUMULATOR);
    }

    public int maxFrameSize() {
        return maxFrameSize;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        int readable = in.readableBytes();
        if (readable < Wire.LENGTH_FIELD_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        long length = in.getUnsignedInt(start);
        if (length > maxFrameSize) {
            throw fail(in, new FrameTooLargeException(maxFrameSize, length));
        }
        if (length < Wire.MIN_LENGTH) {
            throw fail(in, new ProtocolException(ErrorCode.PROTOCOL_ERROR, "frame length: " + length
                    + " (expected: >= " + Wire.MIN_LENGTH + ", the type, flags and stream id bytes)"));
        }
        if (readable < Wire.LENGTH_FIELD_LENGTH + 2) {
            return;
        }
        FrameType type;
        try {
            type = FrameType.fromWire(in.getUnsignedByte(start + 4));
        } catch (ProtocolException e) {
            throw fail(in, e);
        }
        int flags = in.getUnsignedByte(start + 5);
        if (flags != 0) {
            throw fail(in, new ProtocolException(ErrorCode.PROTOCOL_ERROR, String.format(
                    "frame flags on %s: 0x%02X (expected: 0x00 in protocol v%d); upgrade ferry on both nodes to the same version",
                    type, flags, Wire.VERSION)));
        }
        int frameLength = Wire.LENGTH_FIELD_LENGTH + (int) length;
        if (readable < frameLength) {
            return;
        }
        int streamId = in.getInt(start + 6);
        ByteBuf payload = in.retainedSlice(start + Wire.HEADER_LENGTH, frameLength - Wire.HEADER_LENGTH);
        in.skipBytes(frameLength);
        out.add(new Frame(type, streamId, payload));
    }

    private ProtocolException fail(ByteBuf in, ProtocolException e) {
        failed = true;
        in.skipBytes(in.readableBytes());
        return e;
    }
}
