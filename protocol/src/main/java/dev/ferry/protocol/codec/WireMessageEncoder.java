package dev.ferry.protocol.codec;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.message.ManifestEntry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.io.IOException;
import java.util.List;

/**
 * Turns each {@link WireMessage} into its {@link Frame}: control messages into their wire.proto message,
 * {@link ImageData} into an IMAGE_DATA frame whose payload is the message's own buffer, not a copy.
 *
 * <p>Ownership: takes over the message; an ImageData's buffer moves on to the frame, and from there to
 * the channel. Does not check the peer's max frame size: senders keep IMAGE_DATA at or below
 * {@link dev.ferry.protocol.Wire#MAX_DATA_PAYLOAD} and below the size announced in HELLO/HELLO_ACK.
 * Stateless and {@link Sharable}.
 */
@Sharable
public class WireMessageEncoder extends MessageToMessageEncoder<WireMessage> {

    public WireMessageEncoder() {
        super(WireMessage.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, WireMessage msg, List<Object> out) throws IOException {
        out.add(toFrame(msg, ctx.alloc()));
    }

    /**
     * The frame of one message. For an {@link ImageData}, the frame takes a new reference to its buffer
     * (the caller still owns the message); other payloads are allocated from {@code alloc}.
     */
    public static Frame toFrame(WireMessage msg, ByteBufAllocator alloc) throws IOException {
        if (msg instanceof ImageData d) {
            return new Frame(d.type(), d.streamId(), d.data().retain());
        }
        if (msg instanceof ChannelData d) {
            return new Frame(d.type(), d.streamId(), d.data().retain());
        }
        return new Frame(msg.type(), msg.streamId(), serialize(toProto(msg), alloc));
    }

    private static MessageLite toProto(WireMessage msg) {
        if (msg instanceof Hello m) {
            return dev.ferry.protocol.message.Hello.newBuilder()
                    .setVersion(m.version()).setNode(m.node()).setMaxFrameSize(m.maxFrameSize())
                    .setWantFacts(m.wantFacts()).build();
        } else if (msg instanceof HelloAck m) {
            var b = dev.ferry.protocol.message.Hello.newBuilder()
                    .setVersion(m.version()).setNode(m.node()).setMaxFrameSize(m.maxFrameSize());
            if (m.facts() != null) {
                b.setFacts(m.facts());
            }
            return b.build();
        } else if (msg instanceof SnapshotBegin m) {
            var b = dev.ferry.protocol.message.SnapshotBegin.newBuilder().setSnapshot(m.snapshot().value())
                    .setExpectedBytes(m.expectedBytes()).setSourcePid(m.sourcePid()).setCriuVersion(m.criuVersion())
                    .setRetryForMillis(m.retryForMillis())
                    .setLazyPages(m.lazyPages()).setLazyTimeoutMillis(m.lazyTimeoutMillis());
            if (m.migrate() != null) {
                b.setMigrate(m.migrate());
            }
            return b.build();
        } else if (msg instanceof ImageOpen m) {
            return dev.ferry.protocol.message.ImageOpen.newBuilder().setName(m.name().value()).build();
        } else if (msg instanceof ImageEnd m) {
            return dev.ferry.protocol.message.ImageEnd.newBuilder().setSize(m.size()).setCrc32C(m.crc32c()).build();
        } else if (msg instanceof SnapshotCommit m) {
            var b = dev.ferry.protocol.message.SnapshotCommit.newBuilder().setSnapshot(m.snapshot().value());
            for (ImageDigest d : m.images()) {
                b.addImages(ManifestEntry.newBuilder()
                        .setName(d.name().value()).setSize(d.size()).setCrc32C(d.crc32c()));
            }
            return b.build();
        } else if (msg instanceof SnapshotAck m) {
            return dev.ferry.protocol.message.SnapshotAck.newBuilder().setSnapshot(m.snapshot().value())
                    .setBytes(m.bytes()).setImages(m.images()).build();
        } else if (msg instanceof SnapshotAbort m) {
            return dev.ferry.protocol.message.SnapshotAbort.newBuilder().setSnapshot(m.snapshot().value())
                    .setReason(m.reason()).build();
        } else if (msg instanceof SnapshotReady m) {
            return dev.ferry.protocol.message.SnapshotReady.newBuilder().setSnapshot(m.snapshot().value())
                    .setResumeToken(m.token()).build();
        } else if (msg instanceof Received m) {
            var b = dev.ferry.protocol.message.Received.newBuilder();
            for (Received.StreamOffset o : m.streams()) {
                b.addStreams(dev.ferry.protocol.message.StreamOffset.newBuilder()
                        .setStreamId(o.streamId()).setOffset(o.offset()));
            }
            return b.build();
        } else if (msg instanceof SnapshotReattach m) {
            return dev.ferry.protocol.message.SnapshotReattach.newBuilder().setSnapshot(m.snapshot().value())
                    .setResumeToken(m.token()).setRetryForMillis(m.retryForMillis()).build();
        } else if (msg instanceof SnapshotReattached m) {
            var b = dev.ferry.protocol.message.SnapshotReattached.newBuilder().setSnapshot(m.snapshot().value());
            for (SnapshotReattached.HeldImage i : m.images()) {
                b.addImages(dev.ferry.protocol.message.HeldImage.newBuilder().setName(i.name().value())
                        .setStreamId(i.streamId()).setSize(i.size()).setComplete(i.complete()));
            }
            return b.build();
        } else if (msg instanceof SnapshotRestored m) {
            return dev.ferry.protocol.message.SnapshotRestored.newBuilder().setSnapshot(m.snapshot().value())
                    .setPid(m.pid()).setRestoreMillis(m.restoreMillis()).setBytes(m.bytes())
                    .setTerminal(m.terminal()).setTerminalLog(m.terminalLog()).build();
        } else if (msg instanceof SnapshotHeld m) {
            return dev.ferry.protocol.message.SnapshotHeld.newBuilder().setSnapshot(m.snapshot().value())
                    .setPid(m.pid()).build();
        } else if (msg instanceof SnapshotResume m) {
            return dev.ferry.protocol.message.SnapshotResume.newBuilder().setSnapshot(m.snapshot().value()).build();
        } else if (msg instanceof ChannelOpen m) {
            return dev.ferry.protocol.message.ChannelOpen.newBuilder().setSnapshot(m.snapshot().value())
                    .setKind(m.kind()).build();
        } else if (msg instanceof ChannelClose m) {
            return dev.ferry.protocol.message.ChannelClose.newBuilder().setCode(m.code() == null ? 0 : m.code().wire())
                    .setMessage(m.message()).setBytes(m.bytes()).build();
        } else if (msg instanceof ErrorMessage m) {
            return dev.ferry.protocol.message.Error.newBuilder().setCode(m.code().wire())
                    .setMessage(m.message()).setSnapshot(m.snapshot()).build();
        }
        throw new IllegalArgumentException("no protobuf message for " + msg.type());
    }

    private static ByteBuf serialize(MessageLite proto, ByteBufAllocator alloc) throws IOException {
        int size = proto.getSerializedSize();
        if (size == 0) {
            return Unpooled.EMPTY_BUFFER;
        }
        ByteBuf buf = alloc.ioBuffer(size, size);
        try {
            CodedOutputStream cos = CodedOutputStream.newInstance(buf.nioBuffer(0, size));
            proto.writeTo(cos);
            cos.flush();
            buf.writerIndex(size);
            return buf;
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
    }
}
