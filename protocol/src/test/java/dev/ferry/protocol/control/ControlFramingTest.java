package dev.ferry.protocol.control;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ControlFramingTest {

    private static final Request DUMP = Request.newBuilder()
            .setDump(DumpRequest.newBuilder().setPid(4242).setSnapshot("web1")
                    .setCriu(CriuOptions.newBuilder().setTcpEstablished(true)))
            .build();

    @Test
    void roundTripsMessagesBackToBack() throws IOException {
        Event progress = Event.newBuilder().setProgress(Progress.newBuilder().setPhase("dump").setBytes(10)).build();
        Event result = Event.newBuilder().setResult(Result.newBuilder().setOk(true)).build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ControlFraming.write(out, progress);
        ControlFraming.write(out, result);

        ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
        assertEquals(progress, ControlFraming.read(in, Event.parser()));
        assertEquals(result, ControlFraming.read(in, Event.parser()));
        assertNull(ControlFraming.read(in, Event.parser()));
    }

    @Test
    void writesLengthBigEndianBeforeProtobuf() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ControlFraming.write(out, DUMP);
        byte[] body = DUMP.toByteArray();
        byte[] bytes = out.toByteArray();
        assertArrayEquals(new byte[] {0, 0, 0, (byte) body.length}, Arrays.copyOf(bytes, 4));
        assertArrayEquals(body, Arrays.copyOfRange(bytes, 4, bytes.length));
    }

    @Test
    void readsEmptyMessage() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ControlFraming.write(out, Request.getDefaultInstance());
        assertArrayEquals(new byte[4], out.toByteArray());
        assertEquals(Request.getDefaultInstance(),
                ControlFraming.read(new ByteArrayInputStream(out.toByteArray()), Request.parser()));
    }

    @Test
    void returnsNullOnEofBeforeLength() throws IOException {
        assertNull(ControlFraming.read(new ByteArrayInputStream(new byte[0]), Request.parser()));
    }

    @Test
    void refusesStreamEndingInsideLength() {
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> ControlFraming.read(new ByteArrayInputStream(new byte[] {0, 0}), Request.parser()));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
    }

    @Test
    void refusesTruncatedMessage() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ControlFraming.write(out, DUMP);
        byte[] cut = Arrays.copyOf(out.toByteArray(), out.size() - 3);

        ProtocolException e = assertThrows(ProtocolException.class,
                () -> ControlFraming.read(new ByteArrayInputStream(cut), Request.parser()));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        int length = out.size() - 4;
        assertTrue(e.getMessage().startsWith("control message: stream ended after " + (length - 3) + " of " + length
                + " bytes (expected: the whole message)"), e.getMessage());
    }

    @Test
    void refusesOversizeLengthWithoutReadingBody() {
        byte[] header = {0x00, 0x10, 0x00, 0x01}; // 1 MiB + 1
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> ControlFraming.read(new ByteArrayInputStream(header), Request.parser()));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("control message length: 1048577 (expected: <= 1048576)"), e.getMessage());

        byte[] huge = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        ProtocolException e2 = assertThrows(ProtocolException.class,
                () -> ControlFraming.read(new ByteArrayInputStream(huge), Request.parser()));
        assertTrue(e2.getMessage().startsWith("control message length: 4294967295 "), e2.getMessage());
    }

    @Test
    void refusesWritingOversizeMessage() {
        Result big = Result.newBuilder().setMessage("x".repeat(ControlFraming.MAX_MESSAGE)).build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProtocolException e = assertThrows(ProtocolException.class, () -> ControlFraming.write(out, big));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertEquals(0, out.size());
    }

    @Test
    void refusesBytesThatDoNotParse() {
        byte[] garbage = {0, 0, 0, 2, 0x0a, 0x05};
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> ControlFraming.read(new ByteArrayInputStream(garbage), Request.parser()));
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
    }
}
