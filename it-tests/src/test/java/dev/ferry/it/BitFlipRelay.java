package dev.ferry.it;

import java.io.IOException;
import java.net.Socket;
import java.util.List;

/**
 * A man in the middle for {@link TamperingIT}, run as its own JVM inside the source node's network
 * namespace: relays TCP connections from the image-proxy to the image-cache, both directions, and
 * flips exactly one bit, once, in the proxy → cache direction. Everything else passes untouched.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.BitFlipRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MODE LOG [TIMEOUT_S]
 * </pre>
 *
 * <ul>
 *   <li>{@code frames}: parses ferry's frames (u32 BE length, u8 type, u8 flags, u32 BE stream id,
 *       payload) as they pass and flips bit 0 of the middle payload byte of the first IMAGE_DATA (0x05)
 *       frame whose payload is at least {@link #MIN_PAYLOAD} bytes; length and header stay intact. For
 *       plain TCP links.</li>
 *   <li>{@code offset}: flips bit 0 of the byte at offset {@link #TLS_OFFSET} (256 KiB) of a connection's
 *       proxy → cache bytes, well past any handshake. For TLS links, whose frames cannot be seen.</li>
 * </ul>
 *
 * Every connection, every flip and every close goes to LOG, one line each ({@code listening ...},
 * {@code FLIP ...}, {@code closed ...}). Exits once the connection that carried the flip has closed in
 * both directions, or after TIMEOUT_S (default 90) seconds, whichever comes first. The relaying itself is
 * {@link TcpRelay}'s.
 */
public final class BitFlipRelay extends TcpRelay {

    static final int MIN_PAYLOAD = 4096;
    static final long TLS_OFFSET = 256L << 10;
    static final int IMAGE_DATA = 0x05;
    static final long DEFAULT_TIMEOUT_SECONDS = 90;

    private final boolean frames;

    private BitFlipRelay(Options options) throws IOException {
        super(options, "flip");
        this.frames = options.mode().equals("frames");
    }

    public static void main(String[] args) throws Exception {
        System.exit(TcpRelay.run(args, "BitFlipRelay", List.of("frames", "offset"), DEFAULT_TIMEOUT_SECONDS,
                BitFlipRelay::new));
    }

    @Override
    protected Connection connection(int id, Socket proxySide, Socket cacheSide) {
        return new Flipping(id, proxySide, cacheSide);
    }

    @Override
    protected String faultState() {
        return "flipped: " + faulted();
    }

    /** One relayed connection; the proxy → cache direction runs the frame parser. */
    private final class Flipping extends Connection {
        // frame parser state (proxy -> cache only)
        private final byte[] header = new byte[10];
        private int headerFill;
        private long payloadLeft;
        private long payloadLen;
        private int frameType;
        private int streamId;
        private long frameStart;
        private long frameCount;

        Flipping(int id, Socket proxySide, Socket cacheSide) {
            super(id, proxySide, cacheSide);
        }

        @Override
        String closedDetail() {
            return faultedHere ? ", carried the flip" : "";
        }

        @Override
        void proxyToCache(byte[] buf, int n) {
            if (!frames) {
                if (up <= TLS_OFFSET && TLS_OFFSET < up + n && claimFault()) {
                    flip(buf, (int) (TLS_OFFSET - up), "proxy->cache byte " + TLS_OFFSET + " (inside TLS record data)");
                }
                return;
            }
            int i = 0;
            while (i < n) {
                if (headerFill < header.length) {
                    if (headerFill == 0) {
                        frameStart = up + i;
                    }
                    header[headerFill++] = buf[i++];
                    if (headerFill == header.length) {
                        long length = ((header[0] & 0xFFL) << 24) | ((header[1] & 0xFF) << 16)
                                | ((header[2] & 0xFF) << 8) | (header[3] & 0xFF);
                        frameType = header[4] & 0xFF;
                        streamId = ((header[6] & 0xFF) << 24) | ((header[7] & 0xFF) << 16)
                                | ((header[8] & 0xFF) << 8) | (header[9] & 0xFF);
                        payloadLen = length - 6;
                        payloadLeft = payloadLen;
                        frameCount++;
                        if (payloadLen < 0) {
                            log("connection " + id + ": frame " + frameCount + " has length " + length
                                    + " < 6; not parsing further");
                            payloadLeft = Long.MAX_VALUE;
                        }
                        if (payloadLeft == 0) {
                            headerFill = 0;
                        }
                    }
                    continue;
                }
                int take = (int) Math.min(payloadLeft, n - i);
                long offsetInPayload = payloadLen - payloadLeft;
                long flipAt = payloadLen / 2;
                if (frameType == IMAGE_DATA && payloadLen >= MIN_PAYLOAD && offsetInPayload <= flipAt
                        && flipAt < offsetInPayload + take && claimFault()) {
                    flip(buf, i + (int) (flipAt - offsetInPayload), "payload byte " + flipAt + " of IMAGE_DATA frame "
                            + frameCount + " (stream " + streamId + ", payload " + payloadLen + " bytes, frame header at"
                            + " proxy->cache offset " + frameStart + ")");
                }
                i += take;
                payloadLeft -= take;
                if (payloadLeft == 0) {
                    headerFill = 0;
                }
            }
        }

        private void flip(byte[] buf, int index, String what) {
            byte before = buf[index];
            buf[index] ^= 0x01;
            faultedHere = true;
            log(String.format("FLIP connection %d: bit 0 of %s, proxy->cache offset %d: 0x%02x -> 0x%02x", id, what,
                    up + index, before & 0xFF, buf[index] & 0xFF));
        }
    }
}
