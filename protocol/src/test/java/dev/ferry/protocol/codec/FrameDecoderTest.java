package dev.ferry.protocol.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameTooLargeException;
import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {

    /** The raw bytes of a frame, header written by hand so that the decoder is tested against the spec. */
    static ByteBuf rawFrame(long length, int type, int flags, int streamId, byte[] payload) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt((int) length).writeByte(type).writeByte(flags).writeInt(streamId).writeBytes(payload);
        return b;
    }

    static ByteBuf rawFrame(FrameType type, int streamId, byte[] payload) {
        return rawFrame(6 + payload.length, type.wire(), 0, streamId, payload);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static ProtocolException refusal(EmbeddedChannel ch, ByteBuf in) {
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(in));
        return assertInstanceOf(ProtocolException.class, e.getCause());
    }

    @Test
    void decodesFrameFedOneByteAtATime() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ByteBuf in = rawFrame(FrameType.IMAGE_DATA, 3, bytes("hello pages"));
        while (in.isReadable()) {
            assertNull(ch.readInbound(), "no frame before its last byte");
            ch.writeInbound(in.readRetainedSlice(1));
        }
        in.release();

        Frame f = ch.readInbound();
        assertEquals(FrameType.IMAGE_DATA, f.type());
        assertEquals(3, f.streamId());
        assertEquals("hello pages", f.payload().toString(StandardCharsets.US_ASCII));
        f.release();
        assertFalse(ch.finish());
    }

    @Test
    void decodesSeveralFramesFedAtOnce() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ByteBuf in = Unpooled.buffer();
        ByteBuf a = rawFrame(FrameType.IMAGE_OPEN, 1, bytes("a"));
        ByteBuf b = rawFrame(FrameType.IMAGE_DATA, 1, new byte[0]);
        ByteBuf c = rawFrame(FrameType.SNAPSHOT_ABORT, 0, bytes("ccc"));
        in.writeBytes(a).writeBytes(b).writeBytes(c);
        a.release();
        b.release();
        c.release();

        assertTrue(ch.writeInbound(in));

        Frame f1 = ch.readInbound();
        Frame f2 = ch.readInbound();
        Frame f3 = ch.readInbound();
        assertNull(ch.readInbound());
        assertEquals(FrameType.IMAGE_OPEN, f1.type());
        assertEquals("a", f1.payload().toString(StandardCharsets.US_ASCII));
        assertEquals(FrameType.IMAGE_DATA, f2.type());
        assertEquals(0, f2.payload().readableBytes());
        assertEquals(FrameType.SNAPSHOT_ABORT, f3.type());
        assertEquals(0, f3.streamId());
        assertEquals("ccc", f3.payload().toString(StandardCharsets.US_ASCII));
        f1.release();
        f2.release();
        f3.release();
        assertFalse(ch.finish());
        assertEquals(0, in.refCnt());
    }

    @Test
    void roundTripsEveryFrameTypeThroughEncoderAndDecoder() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(), new FrameEncoder());
        for (FrameType type : FrameType.values()) {
            int streamId = type.isImageStream() ? 0x7fff_0001 : 0;
            byte[] payload = bytes("payload of " + type);
            assertTrue(ch.writeOutbound(new Frame(type, streamId, Unpooled.wrappedBuffer(payload))));
            for (ByteBuf out; (out = ch.readOutbound()) != null; ) {
                ch.writeInbound(out);
            }
            Frame f = ch.readInbound();
            assertEquals(type, f.type());
            assertEquals(streamId, f.streamId());
            assertArrayEquals(payload, ByteBufUtil.getBytes(f.payload()));
            f.release();
        }
        assertFalse(ch.finish());
    }

    @Test
    void handsOnPayloadAsSliceOfReceivedBytes() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ByteBuf in = rawFrame(FrameType.IMAGE_DATA, 1, bytes("abc"));
        ch.writeInbound(in.retain());

        Frame f = ch.readInbound();
        in.setByte(Wire.HEADER_LENGTH, 'X'); // the frame sees it: same memory, no copy
        assertEquals("Xbc", f.payload().toString(StandardCharsets.US_ASCII));
        in.release();
        assertEquals(1, in.refCnt(), "the frame's payload holds the received buffer");
        f.release();
        assertEquals(0, in.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void refusesOversizedLengthBeforePayloadArrives() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(8 * 1024 * 1024));
        ByteBuf lengthOnly = Unpooled.buffer().writeInt(9_000_000);

        ProtocolException e = refusal(ch, lengthOnly);

        FrameTooLargeException tooLarge = assertInstanceOf(FrameTooLargeException.class, e);
        assertEquals(ErrorCode.FRAME_TOO_LARGE, tooLarge.code());
        assertEquals(8_388_608, tooLarge.max());
        assertEquals(9_000_000, tooLarge.actual());
        assertEquals("frame length: 9000000 (expected: <= 8388608); the peer sends larger frames than this node accepts: run the same ferry version on both nodes", tooLarge.getMessage());
        assertEquals(0, lengthOnly.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void refusesLengthAboveSignedIntRange() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        FrameTooLargeException e = assertInstanceOf(FrameTooLargeException.class,
                refusal(ch, Unpooled.buffer().writeInt(0xffff_ffff)));
        assertEquals(4_294_967_295L, e.actual());
        assertFalse(ch.finish());
    }

    @Test
    void acceptsFrameOfExactlyMaxFrameSize() {
        int max = 64 * 1024;
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(max));
        ch.writeInbound(rawFrame(FrameType.IMAGE_DATA, 1, new byte[max - Wire.MIN_LENGTH]));
        Frame f = ch.readInbound();
        assertEquals(max - Wire.MIN_LENGTH, f.payload().readableBytes());
        f.release();
        assertFalse(ch.finish());
    }

    @Test
    void emitsNothingAndLeaksNothingWhenClosedMidFrame() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ByteBuf whole = rawFrame(FrameType.IMAGE_DATA, 2, new byte[100]);
        ByteBuf half = whole.readRetainedSlice(60);
        whole.release();

        assertFalse(ch.writeInbound(half));
        assertFalse(ch.finish(), "a truncated frame is never emitted");
        assertNull(ch.readInbound());
        assertEquals(0, half.refCnt());
        assertEquals(0, whole.refCnt());
    }

    @Test
    void refusesUnknownFrameType() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ProtocolException e = refusal(ch, rawFrame(6, 0x15, 0, 0, new byte[0]));
        assertEquals(ErrorCode.UNKNOWN_FRAME_TYPE, e.code());
        assertTrue(e.getMessage().startsWith("frame type: 0x15 (expected:"), e.getMessage());
        assertFalse(ch.finish());
    }

    @Test
    void refusesUnknownFrameTypeBeforePayloadArrives() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ByteBuf start = Unpooled.buffer().writeInt(1000).writeByte(0x7f).writeByte(0);
        assertEquals(ErrorCode.UNKNOWN_FRAME_TYPE, refusal(ch, start).code());
        assertFalse(ch.finish());
    }

    @Test
    void refusesNonZeroFlags() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ProtocolException e = refusal(ch, rawFrame(6 + 1, FrameType.IMAGE_DATA.wire(), 0x01, 1, new byte[1]));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("frame flags on IMAGE_DATA: 0x01 (expected: 0x00"), e.getMessage());
        assertFalse(ch.finish());
    }

    @Test
    void refusesLengthShorterThanHeader() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ProtocolException e = refusal(ch, Unpooled.buffer().writeInt(5).writeByte(1).writeByte(0));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("frame length: 5 (expected: >= 6"), e.getMessage());
        assertFalse(ch.finish());
    }

    @Test
    void discardsAllInputAfterDecodeError() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        refusal(ch, Unpooled.buffer().writeInt(3));

        ByteBuf valid = rawFrame(FrameType.HELLO, 0, new byte[0]);
        assertFalse(ch.writeInbound(valid), "nothing is decoded after an error");
        assertEquals(0, valid.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void refusesMaxFrameSizeBelowMinimum() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FrameDecoder(100));
        assertEquals("max frame size: 100 (expected: >= 1024)", e.getMessage());
    }
}
