package dev.ferry.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.List;
import java.util.Locale;

/**
 * A relay for {@link MigrateFaultsIT}, run as its own JVM inside the source node's network namespace: relays TCP
 * connections from the image-proxy to the image-cache, both directions untouched, and breaks the link at one moment
 * of a migration's hand-over: when the cache sends its first SNAPSHOT_HELD frame (type {@code 0x0D}, the restored tree
 * held in CRIU's post-restore action), which never reaches the proxy.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.LinkFaultRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MODE LOG [TIMEOUT_S]
 * </pre>
 *
 * <ul>
 *   <li>{@code cut}: drops the frame and resets both sockets at once (SO_LINGER 0, then close): the link fails on
 *       both sides at the same moment.</li>
 *   <li>{@code swallow}: drops the frame and every cache → proxy byte after it, keeps both sockets open and goes on
 *       relaying proxy → cache: to the proxy the cache just says nothing. When either side closes, the other is
 *       closed too.</li>
 * </ul>
 *
 * Only {@code cache → proxy} bytes are parsed ({@link FrameTypeFinder}); plain TCP links only. Every connection, the
 * fault and every close go to LOG, one line each ({@code listening ...}, {@code connection ...}, {@code CUT ...} or
 * {@code SWALLOW ...}, {@code closed ...}, {@code exit ...}). Exits once the connection that carried the fault has
 * closed in both directions, or after TIMEOUT_S (default 120) seconds, whichever comes first. The relaying itself is
 * {@link TcpRelay}'s.
 */
public final class LinkFaultRelay extends TcpRelay {

    static final int SNAPSHOT_HELD = 0x0D;
    static final long DEFAULT_TIMEOUT_SECONDS = 120;

    /** What to do with the first SNAPSHOT_HELD frame. */
    enum Mode { CUT, SWALLOW }

    private final Mode mode;

    private LinkFaultRelay(Options options) throws IOException {
        super(options, "fault");
        this.mode = Mode.valueOf(options.mode().toUpperCase(Locale.ROOT));
    }

    public static void main(String[] args) throws Exception {
        System.exit(TcpRelay.run(args, "LinkFaultRelay", List.of("cut", "swallow"), DEFAULT_TIMEOUT_SECONDS,
                LinkFaultRelay::new));
    }

    @Override
    protected Connection connection(int id, Socket proxySide, Socket cacheSide) {
        return new Faulting(id, proxySide, cacheSide);
    }

    @Override
    protected String faultState() {
        return "fault: " + (faulted() ? mode : "none");
    }

    /** One relayed connection: the proxy → cache pump passes bytes on as they are, the other one parses frames. */
    private final class Faulting extends Connection {
        private final FrameTypeFinder finder = new FrameTypeFinder(SNAPSHOT_HELD);
        private volatile long dropped;

        Faulting(int id, Socket proxySide, Socket cacheSide) {
            super(id, proxySide, cacheSide);
        }

        @Override
        String closedDetail() {
            return " passed on, " + dropped + " dropped" + (faultedHere ? ", carried the fault (" + mode + ")" : "");
        }

        /** After the fault an end of stream closes both: a swallowing relay must not leave one side hanging. */
        @Override
        boolean closesBothAtEndOfStream() {
            return faultedHere;
        }

        /**
         * Passes cache → proxy bytes on up to the first SNAPSHOT_HELD frame, then acts. A header cut short before its
         * type byte waits at the front of {@code buf} ({@code held} bytes, fewer than 5) for the rest of it.
         */
        @Override
        void pumpCacheToProxy() {
            byte[] buf = new byte[BUFFER_BYTES];
            int held = 0;
            boolean watching = true;
            try {
                InputStream in = cacheSide.getInputStream();
                OutputStream out = proxySide.getOutputStream();
                int n;
                while ((n = in.read(buf, held, buf.length - held)) > 0) {
                    if (faultedHere) { // swallowing: read and drop, so that a close by the cache is seen
                        dropped += n;
                        continue;
                    }
                    held += n;
                    int pass = held;
                    if (watching) {
                        finder.feed(buf, held - n, n);
                        pass = (int) (finder.passable() - down);
                        if (finder.stoppedBecause() != null) {
                            watching = false;
                            log("connection " + id + ": not ferry frames: " + finder.stoppedBecause());
                        }
                    }
                    pass(out, buf, pass);
                    System.arraycopy(buf, pass, buf, 0, held - pass);
                    held -= pass;
                    if (watching && finder.found() >= 0) {
                        watching = false;
                        if (!claimFault()) {
                            log("connection " + id + ": SNAPSHOT_HELD at cache->proxy offset " + finder.found()
                                    + ", but the fault is spent; passing it on");
                            pass(out, buf, held);
                            held = 0;
                            continue;
                        }
                        faultedHere = true;
                        dropped += held;
                        held = 0;
                        fault();
                        if (mode == Mode.CUT) {
                            return;
                        }
                    }
                }
                if (held > 0 && !faultedHere) {
                    pass(out, buf, held); // a partial header at the end of the stream: passed on as it is
                }
                endOfStream(CACHE_TO_PROXY, proxySide);
            } catch (IOException e) {
                failed(CACHE_TO_PROXY, e);
            }
        }

        private void pass(OutputStream out, byte[] buf, int n) throws IOException {
            if (n > 0) {
                out.write(buf, 0, n);
                out.flush();
                down += n;
            }
        }

        private void fault() {
            String frame = String.format("SNAPSHOT_HELD (0x%02x) frame %d, length %d, at cache->proxy offset %d"
                    + " (%d bytes passed on before it)", SNAPSHOT_HELD, finder.foundFrame(), finder.foundLength(),
                    finder.found(), down);
            if (mode == Mode.CUT) {
                log("CUT connection " + id + ": " + frame + " dropped; resetting both sockets");
                reset(proxySide);
                reset(cacheSide);
            } else {
                log("SWALLOW connection " + id + ": " + frame + " dropped, and every cache->proxy byte after it; both"
                        + " sockets stay open, proxy->cache still relayed");
            }
        }
    }
}
