package dev.ferry.protocol.criu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Expected bytes are little-endian: ferry runs on x86-64 and arm64, where CRIU's native order is LE. */
class StreamerMessagesTest {

    private static final HexFormat HEX = HexFormat.of();

    @BeforeAll
    static void nativeOrderIsLittleEndian() {
        assertEquals(ByteOrder.LITTLE_ENDIAN, ByteOrder.nativeOrder(),
                "these expected bytes are written for a little-endian host");
    }

    @Test
    void encodesExistsReplyAsSixBytes() {
        assertEquals("020000000801", HEX.formatHex(StreamerMessages.encodeReply(true)));
    }

    @Test
    void encodesDoesNotExistReplyWithFieldPresent() {
        assertEquals("020000000800", HEX.formatHex(StreamerMessages.encodeReply(false)));
    }

    @Test
    void decodesReplies() {
        assertTrue(StreamerMessages.decodeReply(HEX.parseHex("0801")));
        assertFalse(StreamerMessages.decodeReply(HEX.parseHex("0800")));
        assertThrows(ProtocolException.class, () -> StreamerMessages.decodeReply(new byte[0]));
    }

    @Test
    void encodesRequestAsCriuDoes() {
        ByteBuffer request = StreamerMessages.encodeRequest("seccomp.img");
        byte[] bytes = new byte[request.remaining()];
        request.get(bytes);
        assertEquals("0d000000" + "0a0b" + "736563636f6d702e696d67", HEX.formatHex(bytes));
    }

    @Test
    void decodesRequestBack() {
        ByteBuffer request = StreamerMessages.encodeRequest("pages-1.img");
        byte[] bytes = new byte[request.remaining()];
        request.get(bytes);

        int length = StreamerMessages.decodeLength(Arrays.copyOf(bytes, 4));
        assertEquals(bytes.length - 4, length);
        assertEquals("pages-1.img", StreamerMessages.decodeRequest(Arrays.copyOfRange(bytes, 4, 4 + length)));
        assertArrayEquals(HEX.parseHex("0a0b70616765732d312e696d67"), Arrays.copyOfRange(bytes, 4, bytes.length));
    }

    @Test
    void refusesRequestLongerThanMaxRequest() {
        assertEquals(StreamerMessages.MAX_REQUEST, StreamerMessages.decodeLength(HEX.parseHex("00280000")));
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> StreamerMessages.decodeLength(HEX.parseHex("01280000")));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("streamer message length: 10241 (expected: <= 10240"), e.getMessage());
        assertThrows(ProtocolException.class, () -> StreamerMessages.decodeLength(HEX.parseHex("ffffffff")));
    }

    @Test
    void refusesRequestThatDoesNotParse() {
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> StreamerMessages.decodeRequest(HEX.parseHex("0a0b7365")));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
    }

    @Test
    void refusesRequestWithoutFilename() {
        // proto2 required field missing: CRIU never sends this
        assertThrows(ProtocolException.class, () -> StreamerMessages.decodeRequest(new byte[0]));
    }
}
