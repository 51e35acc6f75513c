package dev.ferry.protocol.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.MessageLite;
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
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WireMessageCodecTest {

    private static final SnapshotName WEB1 = SnapshotName.of("web1");
    private static final byte[] IMAGE_BYTES = {0, 1, 2, (byte) 0xff};

    private static EmbeddedChannel pipeline() {
        EmbeddedChannel ch = new EmbeddedChannel();
        WireCodecs.addTo(ch.pipeline(), Wire.DEFAULT_MAX_FRAME_SIZE);
        return ch;
    }

    /** Writes {@code msg} out, feeds the bytes written back in, and returns what comes out the other end. */
    private static WireMessage loopBack(EmbeddedChannel ch, WireMessage msg) {
        assertTrue(ch.writeOutbound(msg));
        for (ByteBuf out; (out = ch.readOutbound()) != null; ) {
            assertInstanceOf(ByteBuf.class, out, "only bytes leave the pipeline");
            ch.writeInbound(out);
        }
        WireMessage in = ch.readInbound();
        assertNull(ch.readInbound());
        return in;
    }

    /** A frame built from a raw protobuf message, as a misbehaving peer would send it. */
    private static ProtocolException refusal(FrameType type, int streamId, MessageLite payload) {
        return refusal(type, streamId, payload.toByteArray());
    }

    private static ProtocolException refusal(FrameType type, int streamId, byte[] payload) {
        EmbeddedChannel ch = pipeline();
        DecoderException e = assertThrows(DecoderException.class,
                () -> ch.writeInbound(FrameDecoderTest.rawFrame(type, streamId, payload)));
        assertFalse(ch.finish());
        return ProtocolException.findIn(e).orElseThrow();
    }

    @Test
    void roundTripsEveryMessageType() {
        List<WireMessage> all = List.of(
                new Hello(Wire.VERSION, "source-node", Wire.DEFAULT_MAX_FRAME_SIZE),
                new HelloAck(Wire.VERSION, "target-node", 8 * 1024 * 1024),
                new Hello(Wire.VERSION, "source-node", Wire.DEFAULT_MAX_FRAME_SIZE, true),
                new HelloAck(Wire.VERSION, "target-node", Wire.DEFAULT_MAX_FRAME_SIZE,
                        dev.ferry.protocol.control.NodeFacts.newBuilder().setNode("target-node").setCriuVersion("4.2.1")
                                .addStates(dev.ferry.protocol.control.StateSupport.newBuilder().setState("file-locks")
                                        .setSupported(true).setNeeds("criu feature fdinfo_lock"))
                                .addStates(dev.ferry.protocol.control.StateSupport.newBuilder().setState("timers")
                                        .setSupported(false).setNeeds("criu feature timerfd: not supported (exit 1)"))
                                .build()),
                new SnapshotBegin(WEB1, 123_456_789_012L, 4242),
                new ImageOpen(7, ImageName.of("pages-1.img")),
                new ImageData(7, Unpooled.wrappedBuffer(IMAGE_BYTES)),
                new ImageEnd(7, 4, 0xdeadbeef),
                new SnapshotCommit(WEB1, List.of(
                        new ImageDigest(ImageName.of("pages-1.img"), 4, 0xdeadbeef),
                        new ImageDigest(ImageName.of("inventory.img"), 0, 0))),
                new SnapshotAck(WEB1, 4, 2),
                new SnapshotAbort(WEB1, "criu dump failed"),
                new SnapshotReady(WEB1),
                new SnapshotBegin(WEB1, 1 << 20, 77, "4.2.1", dev.ferry.protocol.message.MigrateSpec.newBuilder()
                        .setMoveIp("10.0.0.100/32@eth0").setRestoreTimeoutMillis(120_000)
                        .setRestore(dev.ferry.protocol.control.CriuOptions.newBuilder().setTcpEstablished(true)).build()),
                new SnapshotRestored(WEB1, 4242, 120, 1 << 20),
                new SnapshotRestored(WEB1, 4243, 90, 1 << 20, "/dev/pts/3", "/run/ferry/terminals/web1-r-1.log"),
                new SnapshotHeld(WEB1, 4242),
                new SnapshotResume(WEB1),
                new SnapshotBegin(WEB1, 1 << 20, 77, "4.2.1", null, 10_000),
                new SnapshotBegin(WEB1, 1 << 20, 77, "4.2.1", null, 10_000, true, 600_000),
                new SnapshotReady(WEB1, 0x1234_5678_9abc_def0L),
                new Received(List.of(new Received.StreamOffset(7, 4 << 20), new Received.StreamOffset(9, 0))),
                new SnapshotReattach(WEB1, -2L, 10_000),
                new SnapshotReattached(WEB1, List.of(
                        new SnapshotReattached.HeldImage(ImageName.of("pages-1.img"), 7, 4 << 20, false),
                        new SnapshotReattached.HeldImage(ImageName.of("inventory.img"), 0, 42, true))),
                new ChannelOpen(1, WEB1, ChannelOpen.PAGE_SERVER),
                new ChannelData(1, Unpooled.wrappedBuffer(IMAGE_BYTES)),
                new ChannelClose(1, null, "", 1L << 30),
                new ChannelClose(1, ErrorCode.INTERNAL, "target: criu lazy-pages failed (exit 1)", 0),
                new ErrorMessage(ErrorCode.MANIFEST_MISMATCH, "image count: 1 (expected: 2)", "web1"),
                new ErrorMessage(ErrorCode.INTERNAL, "", ""));
        EmbeddedChannel ch = pipeline();
        for (WireMessage sent : all) {
            // the pipeline consumes and releases a sent ImageData: compare with a fresh one
            WireMessage expected = sent instanceof ImageData d
                    ? new ImageData(d.streamId(), Unpooled.wrappedBuffer(IMAGE_BYTES))
                    : sent instanceof ChannelData c ? new ChannelData(c.streamId(), Unpooled.wrappedBuffer(IMAGE_BYTES)) : sent;
            WireMessage received = loopBack(ch, sent);
            assertEquals(expected, received);
            assertEquals(sent.type(), received.type());
            if (received instanceof ChannelData c) {
                assertTrue(c.release());
                assertEquals(0, ((ChannelData) sent).refCnt());
            }
            if (received instanceof ImageData d) {
                // the payload travels without a copy: the received slice holds the sent bytes until released
                assertTrue(d.release());
                assertEquals(0, ((ImageData) sent).refCnt());
            }
        }
        assertEquals(FrameType.values().length, all.stream().map(WireMessage::type).distinct().count(),
                "every frame type is covered");
        assertFalse(ch.finish());
    }

    @Test
    void roundTripsOneMebibyteOfImageDataUnchanged() {
        byte[] bytes = new byte[Wire.MAX_DATA_PAYLOAD];
        new Random(27027).nextBytes(bytes);
        ByteBuf data = Unpooled.directBuffer(bytes.length).writeBytes(bytes);
        EmbeddedChannel ch = pipeline();

        ImageData received = (ImageData) loopBack(ch, new ImageData(42, data));

        assertEquals(42, received.streamId());
        assertArrayEquals(bytes, ByteBufUtil.getBytes(received.data()));
        assertTrue(received.release());
        assertEquals(0, data.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void encodesImageDataWithoutCopying() {
        EmbeddedChannel ch = new EmbeddedChannel(new WireMessageEncoder());
        ByteBuf data = Unpooled.wrappedBuffer(new byte[] {9, 8, 7});

        ch.writeOutbound(new ImageData(3, data));

        Frame f = ch.readOutbound();
        assertSame(data, f.payload());
        assertEquals(1, data.refCnt(), "ownership moved to the frame");
        f.release();
        assertFalse(ch.finish());
    }

    @Test
    void decodesImageDataAsSliceOfFramePayload() {
        EmbeddedChannel ch = new EmbeddedChannel(new WireMessageDecoder());
        ByteBuf payload = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});

        ch.writeInbound(new Frame(FrameType.IMAGE_DATA, 5, payload));

        ImageData d = ch.readInbound();
        assertEquals(1, payload.refCnt(), "the frame was released, the slice holds the payload");
        payload.setByte(0, 42);
        assertEquals(42, d.data().getByte(d.data().readerIndex()));
        d.release();
        assertEquals(0, payload.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void encodesHelloAsInWireFormatDoc() {
        assertEquals("00000015" + "01" + "00" + "00000000" + "0801" + "1206736f75726365" + "1880808002",
                encodedHex(new Hello(1, "source", 4 * 1024 * 1024)));
    }

    @Test
    void helloWithoutFactsEncodesAsBefore_andAFactsRequestAddsOneField() {
        // a v1 peer that knows no facts reads the same bytes it always did; want_facts is field 10, varint: 50 01
        assertEquals(encodedHex(new Hello(1, "source", 4 * 1024 * 1024)),
                encodedHex(new Hello(1, "source", 4 * 1024 * 1024, false)));
        assertEquals("00000017" + "01" + "00" + "00000000" + "0801" + "1206736f75726365" + "1880808002" + "5001",
                encodedHex(new Hello(1, "source", 4 * 1024 * 1024, true)));
    }

    @Test
    void encodesImageDataAsInWireFormatDoc() {
        ByteBuf data = Unpooled.copiedBuffer("0123456789abcdef", StandardCharsets.US_ASCII);
        assertEquals("00000016" + "05" + "00" + "00000001" + "30313233343536373839616263646566",
                encodedHex(new ImageData(1, data)));
        assertEquals(0, data.refCnt());
    }

    @Test
    void encodesImageEndAndCommitAsInWireFormatDoc() {
        assertEquals("0000000d" + "06" + "00" + "00000001" + "0810" + "15cdab3412",
                encodedHex(new ImageEnd(1, 16, 0x1234abcd)));
        assertEquals("00000022" + "07" + "00" + "00000000" + "0a0477656231"
                        + "1214" + "0a0b70616765732d312e696d67" + "1010" + "1dcdab3412",
                encodedHex(new SnapshotCommit(WEB1, List.of(new ImageDigest(ImageName.of("pages-1.img"), 16, 0x1234abcd)))));
    }

    @Test
    void encodesChannelFramesAsInWireFormatDoc() {
        assertEquals("00000019" + "12" + "00" + "00000001" + "0a0477656231" + "120b" + "706167652d736572766572",
                encodedHex(new ChannelOpen(1, WEB1, ChannelOpen.PAGE_SERVER)));
        assertEquals("0000000c" + "14" + "00" + "00000001" + "18" + "808080800" + "4",
                encodedHex(new ChannelClose(1, null, "", 1L << 30)));
    }

    @Test
    void refusesChannelOfUnknownKindAndChannelFrameOnStreamZero() {
        byte[] otherKind = dev.ferry.protocol.message.ChannelOpen.newBuilder().setSnapshot("web1").setKind("shell")
                .build().toByteArray();
        ProtocolException e = refusal(FrameType.CHANNEL_OPEN, 1, otherKind);
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().contains("kind: 'shell'"), e.getMessage());
        ProtocolException zero = refusal(FrameType.CHANNEL_DATA, 0, new byte[] {1});
        assertEquals(ErrorCode.PROTOCOL_ERROR, zero.code());
    }

    /** All the bytes the encoders write for {@code msg}, as hex. */
    private static String encodedHex(WireMessage msg) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder(), new WireMessageEncoder());
        ch.writeOutbound(msg);
        StringBuilder hex = new StringBuilder();
        for (ByteBuf out; (out = ch.readOutbound()) != null; ) {
            hex.append(ByteBufUtil.hexDump(out));
            out.release();
        }
        assertFalse(ch.finish());
        return hex.toString();
    }

    @Test
    void refusesHelloOfAnotherVersion() {
        EmbeddedChannel ch = pipeline();
        ch.writeOutbound(new Hello(7, "source-node", Wire.DEFAULT_MAX_FRAME_SIZE));
        DecoderException e = assertThrows(DecoderException.class, () -> {
            for (ByteBuf out; (out = ch.readOutbound()) != null; ) {
                ch.writeInbound(out);
            }
        });
        ProtocolException p = ProtocolException.findIn(e).orElseThrow();
        assertEquals(ErrorCode.UNSUPPORTED_VERSION, p.code());
        assertEquals("protocol version: 7 (expected: 1); upgrade ferry on both nodes to the same version", p.getMessage());
        assertNull(ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void refusesHelloAckOfAnotherVersion() {
        ProtocolException e = refusal(FrameType.HELLO_ACK, 0, dev.ferry.protocol.message.Hello.newBuilder()
                .setVersion(0).setNode("x").setMaxFrameSize(Wire.DEFAULT_MAX_FRAME_SIZE).build());
        assertEquals(ErrorCode.UNSUPPORTED_VERSION, e.code());
    }

    @Test
    void refusesHelloWithTinyMaxFrameSize() {
        ProtocolException e = refusal(FrameType.HELLO, 0, dev.ferry.protocol.message.Hello.newBuilder()
                .setVersion(Wire.VERSION).setNode("x").setMaxFrameSize(10).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("HELLO max frame size: 10 (expected: 1024 to"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "a/b", "", ".hidden", "a..b", "web 1", "a\u0000b"})
    void refusesBadSnapshotName(String name) {
        ProtocolException e = refusal(FrameType.SNAPSHOT_BEGIN, 0,
                dev.ferry.protocol.message.SnapshotBegin.newBuilder().setSnapshot(name).build());
        assertEquals(ErrorCode.BAD_NAME, e.code());
        assertEquals("SNAPSHOT_BEGIN: " + SnapshotName.problem(name), e.getMessage());
    }

    @Test
    void refusesLazyPagesBesideAMigrateSpec() {
        ProtocolException e = refusal(FrameType.SNAPSHOT_BEGIN, 0, dev.ferry.protocol.message.SnapshotBegin.newBuilder()
                .setSnapshot("web1").setLazyPages(true)
                .setMigrate(dev.ferry.protocol.message.MigrateSpec.newBuilder().setLazyPages(true)).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().contains("lazy_pages with a MigrateSpec"), e.getMessage());
    }

    @Test
    void refusesTenKilobyteSnapshotName() {
        String name = "a".repeat(10 * 1024);
        ProtocolException e = refusal(FrameType.SNAPSHOT_COMMIT, 0,
                dev.ferry.protocol.message.SnapshotCommit.newBuilder().setSnapshot(name).build());
        assertEquals(ErrorCode.BAD_NAME, e.code());
        assertTrue(e.getMessage().contains("10240 characters"), e.getMessage());
    }

    @Test
    void refusesBadImageNameInOpenAndManifest() {
        ProtocolException open = refusal(FrameType.IMAGE_OPEN, 1,
                dev.ferry.protocol.message.ImageOpen.newBuilder().setName("../../etc/passwd").build());
        assertEquals(ErrorCode.BAD_NAME, open.code());

        ProtocolException commit = refusal(FrameType.SNAPSHOT_COMMIT, 0,
                dev.ferry.protocol.message.SnapshotCommit.newBuilder().setSnapshot("web1")
                        .addImages(ManifestEntry.newBuilder().setName("core-1.img"))
                        .addImages(ManifestEntry.newBuilder().setName("a/b.img")).build());
        assertEquals(ErrorCode.BAD_NAME, commit.code());
    }

    @Test
    void refusesImageDataOnStreamZero() {
        ProtocolException e = refusal(FrameType.IMAGE_DATA, 0, new byte[] {1, 2, 3});
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("stream id on IMAGE_DATA: 0 (expected: 1 to 2147483647"), e.getMessage());
    }

    @Test
    void refusesImageStreamIdAboveSignedRange() {
        ProtocolException e = refusal(FrameType.IMAGE_END, 0x8000_0000,
                dev.ferry.protocol.message.ImageEnd.newBuilder().setSize(1).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("stream id on IMAGE_END: 2147483648 "), e.getMessage());
    }

    @Test
    void refusesSnapshotFrameOnImageStream() {
        ProtocolException e = refusal(FrameType.SNAPSHOT_ABORT, 3,
                dev.ferry.protocol.message.SnapshotAbort.newBuilder().setSnapshot("web1").build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertEquals("stream id on SNAPSHOT_ABORT: 3 (expected: 0 on snapshot-level frames)", e.getMessage());
    }

    @Test
    void refusesGarbageProtobuf() {
        // 0x0a = field 1, length-delimited, then a length of 100 with 2 bytes behind it
        ProtocolException e = refusal(FrameType.SNAPSHOT_BEGIN, 0, new byte[] {0x0a, 100, 'w', 'e'});
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertTrue(e.getMessage().startsWith("SNAPSHOT_BEGIN payload: 4 bytes that do not parse"), e.getMessage());
    }

    @Test
    void refusesInvalidUtf8InName() {
        ProtocolException e = refusal(FrameType.IMAGE_OPEN, 1, new byte[] {0x0a, 2, (byte) 0xc3, (byte) 0x28});
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
    }

    @Test
    void refusesSizeAboveSignedRange() {
        ProtocolException e = refusal(FrameType.IMAGE_END, 1,
                dev.ferry.protocol.message.ImageEnd.newBuilder().setSize(-1).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, e.code());
        assertEquals("IMAGE_END image size: 18446744073709551615 (expected: <= 9223372036854775807)", e.getMessage());
    }

    @Test
    void refusesResumeFramesWithHostileFields() {
        ProtocolException zeroStream = refusal(FrameType.RECEIVED, 0, dev.ferry.protocol.message.Received.newBuilder()
                .addStreams(dev.ferry.protocol.message.StreamOffset.newBuilder().setStreamId(0).setOffset(1)).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, zeroStream.code());
        ProtocolException hugeOffset = refusal(FrameType.RECEIVED, 0, dev.ferry.protocol.message.Received.newBuilder()
                .addStreams(dev.ferry.protocol.message.StreamOffset.newBuilder().setStreamId(1).setOffset(-1)).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, hugeOffset.code());
        ProtocolException badName = refusal(FrameType.SNAPSHOT_REATTACH, 0,
                dev.ferry.protocol.message.SnapshotReattach.newBuilder().setSnapshot("../etc").build());
        assertEquals(ErrorCode.BAD_NAME, badName.code());
        ProtocolException badImage = refusal(FrameType.SNAPSHOT_REATTACHED, 0,
                dev.ferry.protocol.message.SnapshotReattached.newBuilder().setSnapshot("web1")
                        .addImages(dev.ferry.protocol.message.HeldImage.newBuilder().setName("..")).build());
        assertEquals(ErrorCode.BAD_NAME, badImage.code());
        ProtocolException onStream = refusal(FrameType.SNAPSHOT_REATTACH, 3,
                dev.ferry.protocol.message.SnapshotReattach.newBuilder().setSnapshot("web1").build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, onStream.code());
        ProtocolException budget = refusal(FrameType.SNAPSHOT_REATTACH, 0,
                dev.ferry.protocol.message.SnapshotReattach.newBuilder().setSnapshot("web1").setRetryForMillis(-1).build());
        assertEquals(ErrorCode.PROTOCOL_ERROR, budget.code());
    }

    @Test
    void decodesUnknownErrorCodeAsProtocolError() {
        EmbeddedChannel ch = pipeline();
        ch.writeInbound(FrameDecoderTest.rawFrame(FrameType.ERROR, 0, dev.ferry.protocol.message.Error.newBuilder()
                .setCode(999).setMessage("from the future").setSnapshot("../echoed bad name").build().toByteArray()));
        ErrorMessage m = ch.readInbound();
        assertEquals(new ErrorMessage(ErrorCode.PROTOCOL_ERROR, "from the future", "../echoed bad name"), m);
        assertFalse(ch.finish());
    }

    @Test
    void keepsDecodingFramesAfterRefusedMessage() {
        EmbeddedChannel ch = pipeline();
        assertThrows(DecoderException.class, () -> ch.writeInbound(FrameDecoderTest.rawFrame(FrameType.IMAGE_DATA, 0, new byte[1])));
        ch.writeInbound(FrameDecoderTest.rawFrame(FrameType.SNAPSHOT_ABORT, 0,
                dev.ferry.protocol.message.SnapshotAbort.newBuilder().setSnapshot("web1").build().toByteArray()));
        assertEquals(new SnapshotAbort(WEB1, ""), ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void recordsRefuseImpossibleValues() {
        ByteBuf data = Unpooled.buffer(0);
        assertThrows(IllegalArgumentException.class, () -> new ImageData(0, data));
        assertThrows(IllegalArgumentException.class, () -> new ImageOpen(-1, ImageName.of("a.img")));
        assertThrows(IllegalArgumentException.class, () -> new ImageEnd(1, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SnapshotBegin(WEB1, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SnapshotAck(WEB1, 0, -1));
        assertThrows(NullPointerException.class, () -> new ErrorMessage(ErrorCode.INTERNAL, "x", null));
        assertEquals(Wire.SNAPSHOT_STREAM, new SnapshotAck(WEB1, 0, 0).streamId());
        assertEquals(9, new ImageEnd(9, 0, 0).streamId());
    }

    @Test
    void addsCodecsInPipelineOrder() {
        EmbeddedChannel ch = pipeline();
        assertEquals(List.of(WireCodecs.FRAME_DECODER, WireCodecs.FRAME_ENCODER,
                        WireCodecs.MESSAGE_DECODER, WireCodecs.MESSAGE_ENCODER),
                ch.pipeline().names().subList(0, 4));
        assertFalse(ch.finish());
    }
}
