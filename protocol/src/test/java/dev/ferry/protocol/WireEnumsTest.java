package dev.ferry.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class WireEnumsTest {

    @Test
    void frameTypesKeepTheirWireValues() {
        int expected = 0x01;
        for (FrameType t : FrameType.values()) {
            assertEquals(expected++, t.wire(), t.name());
            assertSame(t, FrameType.fromWire(t.wire()));
        }
        assertEquals(0x0A, FrameType.ERROR.wire());
    }

    @Test
    void unknownFrameTypeIsRefused() {
        for (int wire : new int[] {0x00, 0x15, 0xff, -1, 256}) {
            ProtocolException e = assertThrows(ProtocolException.class, () -> FrameType.fromWire(wire));
            assertEquals(ErrorCode.UNKNOWN_FRAME_TYPE, e.code());
        }
    }

    @Test
    void onlyImageFramesUseImageStreams() {
        for (FrameType t : FrameType.values()) {
            boolean image = t == FrameType.IMAGE_OPEN || t == FrameType.IMAGE_DATA || t == FrameType.IMAGE_END;
            assertEquals(image, t.isImageStream(), t.name());
        }
    }

    @Test
    void errorCodesKeepTheirWireValues() {
        int expected = 1;
        for (ErrorCode c : ErrorCode.values()) {
            assertEquals(expected++, c.wire(), c.name());
            assertSame(c, ErrorCode.fromWire(c.wire()));
        }
        assertEquals(15, ErrorCode.UNEXPECTED_FRAME.wire());
        assertEquals(17, ErrorCode.RESTORE_FAILED.wire());
        assertEquals(18, ErrorCode.REATTACH_REFUSED.wire());
    }

    @Test
    void unknownErrorCodeReadsAsProtocolError() {
        assertSame(ErrorCode.PROTOCOL_ERROR, ErrorCode.fromWire(0));
        assertSame(ErrorCode.PROTOCOL_ERROR, ErrorCode.fromWire(19));
        assertSame(ErrorCode.PROTOCOL_ERROR, ErrorCode.fromWire(-1));
    }

    @Test
    void errorCodesMapToExitCodes() {
        assertSame(ExitCode.INTEGRITY, ErrorCode.MANIFEST_MISMATCH.exitCode());
        assertSame(ExitCode.NOT_FOUND, ErrorCode.NO_SUCH_SNAPSHOT.exitCode());
        assertSame(ExitCode.REFUSED, ErrorCode.SNAPSHOT_EXISTS.exitCode());
    }

    @Test
    void protocolExceptionIsFoundInsideNettyWrappers() {
        ProtocolException p = new ProtocolException(ErrorCode.BAD_NAME, "snapshot name: empty");
        assertSame(p, ProtocolException.findIn(new DecoderException(new IOException(p))).orElseThrow());
        assertSame(p, ProtocolException.findIn(p).orElseThrow());
        assertTrue(ProtocolException.findIn(new IOException("x")).isEmpty());
        assertTrue(ProtocolException.findIn(null).isEmpty());
        assertEquals("dev.ferry.protocol.ProtocolException [BAD_NAME]: snapshot name: empty", p.toString());
    }

    @Test
    void frameTooLargeCarriesItsNumbers() {
        FrameTooLargeException e = new FrameTooLargeException(8_388_608, 9_000_000);
        assertEquals(ErrorCode.FRAME_TOO_LARGE, e.code());
        assertEquals("frame length: 9000000 (expected: <= 8388608); the peer sends larger frames than this node accepts: run the same ferry version on both nodes", e.getMessage());
    }

    @Test
    void headerLengthAddsUp() {
        assertEquals(4 + 1 + 1 + 4, Wire.HEADER_LENGTH);
        assertEquals(6, Wire.MIN_LENGTH);
        assertTrue(Wire.MAX_DATA_PAYLOAD + Wire.MIN_LENGTH <= Wire.DEFAULT_MAX_FRAME_SIZE);
    }
}
