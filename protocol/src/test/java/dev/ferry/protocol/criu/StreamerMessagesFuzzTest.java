package dev.ferry.protocol.criu;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ferry.protocol.ProtocolException;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the parsing of CRIU's image-streamer requests: the native-order length, then the
 * img_streamer_request_entry body. The only acceptable failure is a {@link ProtocolException}.
 *
 * <p>A normal build replays the corpus in {@code StreamerMessagesFuzzTestInputs/decodesOrRefusesAnyRequest};
 * see docs/fuzzing.md for fuzzing with {@code -Pfuzz}.
 */
class StreamerMessagesFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void decodesOrRefusesAnyRequest(byte[] input) {
        if (input.length < 4) {
            return;
        }
        int length;
        try {
            length = StreamerMessages.decodeLength(Arrays.copyOf(input, 4));
        } catch (ProtocolException e) {
            return;
        }
        assertTrue(length >= 0 && length <= StreamerMessages.MAX_REQUEST, "length " + length);
        byte[] body = Arrays.copyOfRange(input, 4, Math.min(input.length, 4 + length));
        String filename;
        try {
            filename = StreamerMessages.decodeRequest(body);
        } catch (ProtocolException e) {
            return;
        }
        // Whatever parsed is encoded back to a request that parses to the same name.
        var again = StreamerMessages.encodeRequest(filename);
        byte[] four = new byte[4];
        again.get(four);
        byte[] rest = new byte[again.remaining()];
        again.get(rest);
        assertEquals(rest.length, StreamerMessages.decodeLength(four));
        assertEquals(filename, StreamerMessages.decodeRequest(rest));
    }
}
