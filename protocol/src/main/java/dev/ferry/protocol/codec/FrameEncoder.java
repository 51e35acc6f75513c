package dev.ferry.protocol.codec;

import dev.ferry.protocol.Wire;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;

/**
 * Writes a {@link Frame} as its 10-byte header (drawn in {@link FrameDecoder}) followed by its payload.
 * The header goes in a small buffer of its own; the payload is passed on as it is, never copied, so an
 * IMAGE_DATA frame of 1 MiB costs one 10-byte allocation.
 *
 * <p>Ownership: takes over the frame; the payload's reference moves on to the channel, which releases it
 * once written. Stateless and {@link Sharable}.
 */
@Sharable
public class FrameEncoder extends MessageToMessageEncoder<Frame> {

    public FrameEncoder() {
        super(Frame.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, List<Object> out) {
        ByteBuf payload = frame.payload();
        int payloadLength = payload.readableBytes();
        ByteBuf header = ctx.alloc().ioBuffer(Wire.HEADER_LENGTH);
        header.writeInt((int) (Wire.MIN_LENGTH + (long) payloadLength)); // u32: the low 32 bits of the long
        header.writeByte(frame.type().wire());
        header.writeByte(0); // flags: none in v1
        header.writeInt(frame.streamId());
        out.add(header);
        if (payloadLength > 0) {
            // MessageToMessageEncoder releases the frame after encode(); the retained payload is the channel's.
            out.add(payload.retain());
        }
    }
}
