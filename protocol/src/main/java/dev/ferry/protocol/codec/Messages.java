package dev.ferry.protocol.codec;

import dev.ferry.protocol.Wire;

/** Argument checks shared by the message records. */
final class Messages {

    private Messages() {
    }

    static void requireImageStream(int streamId) {
        if (streamId <= Wire.SNAPSHOT_STREAM) {
            throw new IllegalArgumentException("stream id: " + Integer.toUnsignedString(streamId)
                    + " (expected: 1 to " + Integer.MAX_VALUE + " for an image stream)");
        }
    }

    static void requireNotNegative(String what, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(what + ": " + value + " (expected: >= 0)");
        }
    }
}
