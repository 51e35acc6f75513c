package dev.ferry.it;

/**
 * Follows one direction of a plain TCP ferry link frame by frame, from bytes that arrive in pieces of any size, and
 * finds the first frame of one type. It knows bytes only; {@link LinkFaultRelay} decides what to do with the frame.
 * Self-contained (no protocol classes): the relay runs with the test classes alone on its class path.
 *
 * <pre>
 *  0         3    4      5       6           9   10
 * +-----------+------+-------+-------------+-----------------------------+
 * |  length   | type | flags |  stream id  | payload                     |
 * |  u32 BE   |  u8  |  u8   |   u32 BE    | length - 6 bytes            |
 * +-----------+------+-------+-------------+-----------------------------+
 * </pre>
 *
 * <p>The type is known once the first {@link #TYPE_KNOWN_AT} bytes of a header have arrived, so {@link #passable()}
 * holds back a header cut short before its type byte: a relay that passes on only that many bytes never lets out the
 * first byte of the frame it is looking for. Not thread-safe: one pump thread feeds it.
 */
final class FrameTypeFinder {

    /** The length field and the type byte: once these are in, the frame's type is known. */
    static final int TYPE_KNOWN_AT = 5;
    static final int HEADER_BYTES = 10;
    /** Length counts type, flags and stream id besides the payload. */
    static final int MIN_LENGTH = 6;

    private final int type;
    private final byte[] header = new byte[HEADER_BYTES];
    private int headerFill;
    private long payloadLeft;
    private long consumed;
    private long frameStart;
    private long frames;
    private long found = -1;
    private long foundFrame;
    private long foundLength;
    private String stopped;

    /** @param type the frame type to look for, 0..255 */
    FrameTypeFinder(int type) {
        if (type < 0 || type > 0xFF) {
            throw new IllegalArgumentException("frame type: " + type + " (expected: 0..255)");
        }
        this.type = type;
    }

    /** Reads {@code buf[off, off + len)}, the next bytes of the stream. After the frame is found, only counts them. */
    void feed(byte[] buf, int off, int len) {
        int i = off;
        int end = off + len;
        while (i < end && found < 0 && stopped == null) {
            if (headerFill < HEADER_BYTES) {
                if (headerFill == 0) {
                    frameStart = consumed + (i - off);
                }
                header[headerFill++] = buf[i++];
                if (headerFill == TYPE_KNOWN_AT) {
                    typeKnown();
                } else if (headerFill == HEADER_BYTES && payloadLeft == 0) {
                    headerFill = 0; // a frame without payload
                }
                continue;
            }
            int take = (int) Math.min(payloadLeft, end - i);
            i += take;
            payloadLeft -= take;
            if (payloadLeft == 0) {
                headerFill = 0;
            }
        }
        consumed += len;
    }

    private void typeKnown() {
        long length = ((header[0] & 0xFFL) << 24) | ((header[1] & 0xFF) << 16) | ((header[2] & 0xFF) << 8)
                | (header[3] & 0xFF);
        frames++;
        if (length < MIN_LENGTH) {
            stopped = "frame " + frames + " at offset " + frameStart + " has length " + length + " (expected: >= "
                    + MIN_LENGTH + "); not parsing further";
            return;
        }
        payloadLeft = length - MIN_LENGTH;
        if ((header[4] & 0xFF) == type) {
            found = frameStart;
            foundFrame = frames;
            foundLength = length;
        }
    }

    /** Stream offset of the first frame of the type (its length field), or -1 while none was seen. */
    long found() {
        return found;
    }

    /** Which frame of the stream it was, counting from 1; 0 while none was seen. */
    long foundFrame() {
        return foundFrame;
    }

    /** Its length field (payload length + 6); 0 while none was seen. */
    long foundLength() {
        return foundLength;
    }

    /** Bytes fed so far. */
    long consumed() {
        return consumed;
    }

    /**
     * Stream offset up to which the bytes are known not to belong to the frame looked for: its start once found;
     * else the start of a header whose type byte has not arrived yet; else everything fed.
     */
    long passable() {
        if (found >= 0) {
            return found;
        }
        if (stopped == null && headerFill > 0 && headerFill < TYPE_KNOWN_AT) {
            return frameStart;
        }
        return consumed;
    }

    /** Why the finder stopped parsing (a length below 6: not ferry frames), or null while it parses. */
    String stoppedBecause() {
        return stopped;
    }
}
