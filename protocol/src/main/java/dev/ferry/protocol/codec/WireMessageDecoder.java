package dev.ferry.protocol.codec;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.ManifestEntry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageDecoder;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns each {@link Frame} into its {@link WireMessage}, and refuses what breaks the rules of protocol v1
 * with a {@link ProtocolException}:
 *
 * <ul>
 *   <li>stream id not 0 on a snapshot-level frame, or not 1 to 2^31-1 on IMAGE_OPEN, IMAGE_DATA and
 *       IMAGE_END: {@link ErrorCode#PROTOCOL_ERROR};</li>
 *   <li>a payload that is not the frame type's protobuf message (wire.proto), a size or count above
 *       2^63-1 or 2^31-1, a max frame size below {@link Wire#MIN_MAX_FRAME_SIZE}:
 *       {@link ErrorCode#PROTOCOL_ERROR};</li>
 *   <li>HELLO or HELLO_ACK of another version than {@link Wire#VERSION}:
 *       {@link ErrorCode#UNSUPPORTED_VERSION};</li>
 *   <li>an invalid {@link SnapshotName} or {@link ImageName}: {@link ErrorCode#BAD_NAME}.</li>
 * </ul>
 *
 * Control payloads are parsed straight from the frame's buffer. IMAGE_DATA is not parsed: its message
 * holds a retained slice of the payload, no copy. The snapshot of an ERROR frame is not validated (it may
 * echo a bad name), and an unknown error code reads as {@link ErrorCode#PROTOCOL_ERROR}.
 *
 * <p>Errors reach {@code exceptionCaught} as a {@link io.netty.handler.codec.DecoderException} wrapping
 * the ProtocolException ({@link ProtocolException#findIn}). Unlike {@link FrameDecoder}, this decoder
 * goes on with the next frame after an error: the frame boundaries are still sound, so the handler
 * decides whether to fail one snapshot or the whole connection.
 *
 * <p>Ownership: releases every frame it is given; the next handler owns each message emitted (only
 * {@link ImageData} needs releasing). One instance per channel (Netty's base class keeps read state).
 */
public class WireMessageDecoder extends MessageToMessageDecoder<Frame> {

    public WireMessageDecoder() {
        super(Frame.class);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, Frame frame, List<Object> out) {
        out.add(toMessage(frame));
    }

    /**
     * The message of one frame. Does not release the frame; an {@link ImageData} result holds its own
     * reference to a slice of the payload.
     *
     * @throws ProtocolException when the frame breaks the rules listed above
     */
    public static WireMessage toMessage(Frame frame) {
        checkStreamId(frame);
        return switch (frame.type()) {
            case HELLO -> hello(frame);
            case HELLO_ACK -> helloAck(frame);
            case SNAPSHOT_BEGIN -> snapshotBegin(frame);
            case IMAGE_OPEN -> imageOpen(frame);
            case IMAGE_DATA -> new ImageData(frame.streamId(), frame.payload().retainedSlice());
            case IMAGE_END -> imageEnd(frame);
            case SNAPSHOT_COMMIT -> snapshotCommit(frame);
            case SNAPSHOT_ACK -> snapshotAck(frame);
            case SNAPSHOT_ABORT -> snapshotAbort(frame);
            case ERROR -> error(frame);
            case SNAPSHOT_READY -> snapshotReady(frame);
            case SNAPSHOT_RESTORED -> snapshotRestored(frame);
            case SNAPSHOT_HELD -> snapshotHeld(frame);
            case SNAPSHOT_RESUME -> new SnapshotResume(snapshotName(frame,
                    parse(frame, dev.ferry.protocol.message.SnapshotResume.parser()).getSnapshot()));
            case RECEIVED -> received(frame);
            case SNAPSHOT_REATTACH -> snapshotReattach(frame);
            case SNAPSHOT_REATTACHED -> snapshotReattached(frame);
            case CHANNEL_OPEN -> channelOpen(frame);
            case CHANNEL_DATA -> new ChannelData(frame.streamId(), frame.payload().retainedSlice());
            case CHANNEL_CLOSE -> channelClose(frame);
        };
    }

    private static Hello hello(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.Hello.parser());
        return new Hello(version(p.getVersion()), p.getNode(), maxFrameSize(frame, p.getMaxFrameSize()), p.getWantFacts());
    }

    private static HelloAck helloAck(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.Hello.parser());
        return new HelloAck(version(p.getVersion()), p.getNode(), maxFrameSize(frame, p.getMaxFrameSize()),
                p.hasFacts() ? p.getFacts() : null);
    }

    private static SnapshotBegin snapshotBegin(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotBegin.parser());
        if (p.hasMigrate() && p.getLazyPages()) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " of " + p.getSnapshot()
                    + ": lazy_pages with a MigrateSpec (expected: a post-copy migration says so in MigrateSpec.lazy_pages,"
                    + " SNAPSHOT_BEGIN.lazy_pages is for `ferry dump --lazy` only)");
        }
        return new SnapshotBegin(snapshotName(frame, p.getSnapshot()),
                notNegative(frame, "expected bytes", p.getExpectedBytes()),
                notNegative(frame, "source pid", p.getSourcePid()), p.getCriuVersion(),
                p.hasMigrate() ? p.getMigrate() : null,
                notNegative(frame, "retry for millis", p.getRetryForMillis()),
                p.getLazyPages(), notNegative(frame, "lazy timeout millis", p.getLazyTimeoutMillis()));
    }

    private static Received received(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.Received.parser());
        List<Received.StreamOffset> streams = new ArrayList<>(p.getStreamsCount());
        for (var o : p.getStreamsList()) {
            streams.add(new Received.StreamOffset(streamId(frame, o.getStreamId()),
                    notNegative(frame, "received offset", o.getOffset())));
        }
        return new Received(streams);
    }

    private static SnapshotReattach snapshotReattach(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotReattach.parser());
        return new SnapshotReattach(snapshotName(frame, p.getSnapshot()), p.getResumeToken(),
                notNegative(frame, "retry for millis", p.getRetryForMillis()));
    }

    private static SnapshotReattached snapshotReattached(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotReattached.parser());
        List<SnapshotReattached.HeldImage> images = new ArrayList<>(p.getImagesCount());
        for (var i : p.getImagesList()) {
            images.add(new SnapshotReattached.HeldImage(imageName(frame, i.getName()),
                    notNegative(frame, "held stream id", i.getStreamId()),
                    notNegative(frame, "held size of " + i.getName(), i.getSize()), i.getComplete()));
        }
        return new SnapshotReattached(snapshotName(frame, p.getSnapshot()), images);
    }

    private static int streamId(Frame frame, int id) {
        if (id <= Wire.SNAPSHOT_STREAM) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " stream id: "
                    + Integer.toUnsignedString(id) + " (expected: 1 to " + Integer.MAX_VALUE + ")");
        }
        return id;
    }

    private static SnapshotRestored snapshotRestored(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotRestored.parser());
        return new SnapshotRestored(snapshotName(frame, p.getSnapshot()),
                notNegative(frame, "restored pid", p.getPid()),
                notNegative(frame, "restore millis", p.getRestoreMillis()),
                notNegative(frame, "bytes", p.getBytes()), p.getTerminal(), p.getTerminalLog());
    }

    private static SnapshotHeld snapshotHeld(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotHeld.parser());
        return new SnapshotHeld(snapshotName(frame, p.getSnapshot()), notNegative(frame, "held pid", p.getPid()));
    }

    private static ChannelOpen channelOpen(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.ChannelOpen.parser());
        if (!ChannelOpen.PAGE_SERVER.equals(p.getKind())) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "CHANNEL_OPEN kind: '" + p.getKind()
                    + "' (expected: '" + ChannelOpen.PAGE_SERVER + "')");
        }
        return new ChannelOpen(frame.streamId(), snapshotName(frame, p.getSnapshot()), p.getKind());
    }

    private static ChannelClose channelClose(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.ChannelClose.parser());
        ErrorCode code = p.getCode() == 0 ? null : ErrorCode.fromWire(p.getCode());
        return new ChannelClose(frame.streamId(), code, p.getMessage(), notNegative(frame, "channel bytes", p.getBytes()));
    }

    private static ImageOpen imageOpen(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.ImageOpen.parser());
        return new ImageOpen(frame.streamId(), imageName(frame, p.getName()));
    }

    private static ImageEnd imageEnd(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.ImageEnd.parser());
        return new ImageEnd(frame.streamId(), notNegative(frame, "image size", p.getSize()), p.getCrc32C());
    }

    private static SnapshotCommit snapshotCommit(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotCommit.parser());
        SnapshotName snapshot = snapshotName(frame, p.getSnapshot());
        List<ImageDigest> images = new ArrayList<>(p.getImagesCount());
        for (ManifestEntry e : p.getImagesList()) {
            images.add(new ImageDigest(imageName(frame, e.getName()),
                    notNegative(frame, "manifest size of " + e.getName(), e.getSize()), e.getCrc32C()));
        }
        return new SnapshotCommit(snapshot, images);
    }

    private static SnapshotAck snapshotAck(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotAck.parser());
        return new SnapshotAck(snapshotName(frame, p.getSnapshot()),
                notNegative(frame, "snapshot bytes", p.getBytes()),
                notNegative(frame, "image count", p.getImages()));
    }

    private static SnapshotAbort snapshotAbort(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotAbort.parser());
        return new SnapshotAbort(snapshotName(frame, p.getSnapshot()), p.getReason());
    }

    private static SnapshotReady snapshotReady(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.SnapshotReady.parser());
        return new SnapshotReady(snapshotName(frame, p.getSnapshot()), p.getResumeToken());
    }

    private static ErrorMessage error(Frame frame) {
        var p = parse(frame, dev.ferry.protocol.message.Error.parser());
        return new ErrorMessage(ErrorCode.fromWire(p.getCode()), p.getMessage(), p.getSnapshot());
    }

    private static void checkStreamId(Frame frame) {
        int id = frame.streamId();
        if (frame.type().isImageStream() || frame.type().isChannel()) {
            if (id <= Wire.SNAPSHOT_STREAM) {
                throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "stream id on " + frame.type() + ": "
                        + Integer.toUnsignedString(id) + " (expected: 1 to " + Integer.MAX_VALUE
                        + ", the image stream or channel it belongs to)");
            }
        } else if (id != Wire.SNAPSHOT_STREAM) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "stream id on " + frame.type() + ": "
                    + Integer.toUnsignedString(id) + " (expected: 0 on snapshot-level frames)");
        }
    }

    private static <T> T parse(Frame frame, Parser<T> parser) {
        ByteBuf payload = frame.payload();
        try {
            // A single NIO view (the usual case) is parsed in place; only a composite payload is copied.
            return payload.nioBufferCount() == 1
                    ? parser.parseFrom(payload.nioBuffer())
                    : parser.parseFrom(ByteBufUtil.getBytes(payload));
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " payload: "
                    + payload.readableBytes() + " bytes that do not parse (" + e.getMessage()
                    + ") (expected: the " + frame.type() + " message of wire.proto v" + Wire.VERSION + ")", e);
        }
    }

    private static int version(int version) {
        if (version != Wire.VERSION) {
            throw new ProtocolException(ErrorCode.UNSUPPORTED_VERSION, "protocol version: "
                    + Integer.toUnsignedString(version) + " (expected: " + Wire.VERSION
                    + "); upgrade ferry on both nodes to the same version");
        }
        return version;
    }

    private static int maxFrameSize(Frame frame, int maxFrameSize) {
        if (maxFrameSize < Wire.MIN_MAX_FRAME_SIZE) { // negative = u32 above 2^31-1
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " max frame size: "
                    + Integer.toUnsignedString(maxFrameSize) + " (expected: " + Wire.MIN_MAX_FRAME_SIZE
                    + " to " + Integer.MAX_VALUE + "); check that both nodes run the same ferry version");
        }
        return maxFrameSize;
    }

    private static long notNegative(Frame frame, String what, long value) {
        if (value < 0) { // uint64 above 2^63-1
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " " + what + ": "
                    + Long.toUnsignedString(value) + " (expected: <= " + Long.MAX_VALUE + ")");
        }
        return value;
    }

    private static int notNegative(Frame frame, String what, int value) {
        if (value < 0) { // uint32 above 2^31-1
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, frame.type() + " " + what + ": "
                    + Integer.toUnsignedString(value) + " (expected: <= " + Integer.MAX_VALUE + ")");
        }
        return value;
    }

    private static SnapshotName snapshotName(Frame frame, String value) {
        String problem = SnapshotName.problem(value);
        if (problem != null) {
            throw new ProtocolException(ErrorCode.BAD_NAME, frame.type() + ": " + problem);
        }
        return new SnapshotName(value);
    }

    private static ImageName imageName(Frame frame, String value) {
        String problem = ImageName.problem(value);
        if (problem != null) {
            throw new ProtocolException(ErrorCode.BAD_NAME, frame.type() + ": " + problem);
        }
        return new ImageName(value);
    }
}
