package dev.ferry.protocol.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ferry.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.util.logging.Level;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Fuzzes the inbound wire pipeline (FrameDecoder, then WireMessageDecoder) with arbitrary bytes, fed all at
 * once and in pieces. The only acceptable failure is a {@link ProtocolException} (wrapped by Netty in a
 * DecoderException); anything else, or a buffer left unreleased, is a finding.
 *
 * <p>A normal build replays the corpus in {@code WireDecodingFuzzTestInputs/decodesOrRefusesAnyBytes}; see
 * docs/fuzzing.md for fuzzing with {@code -Pfuzz}.
 */
class WireDecodingFuzzTest {

    // EmbeddedChannel logs every exception after the first of a write; thousands of lines per second slow the fuzzer.
    private static final Logger EMBEDDED_CHANNEL_LOG = Logger.getLogger(EmbeddedChannel.class.getName());

    static {
        EMBEDDED_CHANNEL_LOG.setLevel(Level.OFF);
    }

    @FuzzTest(maxDuration = "10m")
    void decodesOrRefusesAnyBytes(byte[] input) {
        feed(input, input.length == 0 ? 1 : input.length);
        // Split by the first byte so that the fuzzer also controls where reads end.
        int piece = input.length == 0 ? 1 : 1 + (input[0] & 0x1f);
        feed(input, piece);
    }

    private static void feed(byte[] input, int piece) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(), new WireMessageDecoder());
        ByteBuf all = Unpooled.directBuffer(Math.max(1, input.length)).writeBytes(input);
        try {
            for (int off = 0; off < input.length; off += piece) {
                ByteBuf chunk = all.retainedSlice(off, Math.min(piece, input.length - off));
                try {
                    ch.writeInbound(chunk);
                } catch (RuntimeException e) {
                    if (ProtocolException.findIn(e).isEmpty()) {
                        throw e;
                    }
                }
                drain(ch);
            }
            try {
                ch.finish();
            } catch (RuntimeException e) {
                if (ProtocolException.findIn(e).isEmpty()) {
                    throw e;
                }
            }
            drain(ch);
        } finally {
            ch.finishAndReleaseAll();
            all.release();
        }
        assertEquals(0, all.refCnt(), "every received byte is released by the decoders");
    }

    /** Reads every decoded message and releases it, as the receive handler does. */
    private static void drain(EmbeddedChannel ch) {
        for (Object m; (m = ch.readInbound()) != null; ) {
            if (m instanceof ImageData d) {
                d.data().readableBytes(); // touch it: a released slice would throw
            }
            ReferenceCountUtil.release(m);
        }
    }
}
