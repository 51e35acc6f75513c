package dev.ferry.protocol.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class FrameEncoderTest {

    @Test
    void writesHeaderBigEndianThenPayloadWithoutCopying() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder());
        ByteBuf payload = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});

        assertTrue(ch.writeOutbound(new Frame(FrameType.IMAGE_DATA, 0x01020304, payload)));

        ByteBuf header = ch.readOutbound();
        assertEquals("00000009" + "05" + "00" + "01020304", ByteBufUtil.hexDump(header));
        header.release();
        ByteBuf body = ch.readOutbound();
        assertSame(payload, body, "the payload is passed on, not copied");
        assertEquals(1, body.refCnt());
        body.release();
        assertNull(ch.readOutbound());
        assertFalse(ch.finish());
    }

    @Test
    void writesOnlyHeaderForEmptyPayload() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder());
        ByteBuf empty = Unpooled.buffer(0);

        ch.writeOutbound(new Frame(FrameType.HELLO, 0, empty));

        ByteBuf header = ch.readOutbound();
        assertEquals("00000006" + "01" + "00" + "00000000", ByteBufUtil.hexDump(header));
        header.release();
        assertNull(ch.readOutbound());
        assertEquals(0, empty.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void writesStreamIdAboveSignedRangeAsUnsigned() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder());
        ch.writeOutbound(new Frame(FrameType.IMAGE_END, -1, Unpooled.buffer(0)));
        ByteBuf header = ch.readOutbound();
        assertEquals("ffffffff", ByteBufUtil.hexDump(header, 6, 4));
        header.release();
        assertFalse(ch.finish());
    }
}
