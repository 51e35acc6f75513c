package dev.ferry.it;

import java.io.IOException;
import java.net.Socket;
import java.util.List;

/**
 * A relay for {@link ResumeIT}, run as its own JVM inside the source node's network namespace: relays the image-proxy's
 * connections to the image-cache untouched, until the first connection has carried AFTER_MIB MiB proxy → cache (nearly
 * all of it IMAGE_DATA); then it resets both sockets of that connection (SO_LINGER 0) and, for MS milliseconds,
 * resets every new connection at once (the link is down: the proxy's reconnects fail). After that it relays again.
 *
 * <pre>
 * java -cp TEST_CLASSES dev.ferry.it.LinkCutRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT cutfor:MS:AFTER_MIB LOG [TIMEOUT_S]
 * </pre>
 *
 * Log lines: {@code CUT connection N: ...} once, {@code REFUSED connection N ...} for each connection while the link
 * is down, and {@link TcpRelay}'s own. Unlike the other relays it does not exit when the cut connection closes (the
 * proxy comes back through it): it runs until TIMEOUT_S or until the test stops it.
 */
public final class LinkCutRelay extends TcpRelay {

    static final long DEFAULT_TIMEOUT_SECONDS = 240;

    private final long downMillis;
    private final long afterBytes;
    private volatile long downUntilNanos;

    private LinkCutRelay(Options options) throws IOException {
        super(options, "cut");
        String[] parts = options.mode().split(":");
        this.downMillis = Long.parseLong(parts[1]);
        this.afterBytes = Long.parseLong(parts[2]) << 20;
    }

    /** The MODE for a cut of {@code millis} after {@code afterMib} MiB. */
    static String mode(long millis, int afterMib) {
        return "cutfor:" + millis + ":" + afterMib;
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 5 && !args[4].matches("cutfor:\\d+:\\d+")) {
            System.err.println("usage: LinkCutRelay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT cutfor:MS:AFTER_MIB"
                    + " LOG [TIMEOUT_S]");
            System.exit(2);
        }
        String[] modes = args.length >= 5 ? new String[] {args[4]} : new String[0];
        System.exit(TcpRelay.run(args, "LinkCutRelay", List.of(modes), DEFAULT_TIMEOUT_SECONDS, LinkCutRelay::new));
    }

    @Override
    protected Connection connection(int id, Socket proxySide, Socket cacheSide) {
        return new Cutting(id, proxySide, cacheSide);
    }

    @Override
    protected String faultState() {
        return "cut: " + faulted();
    }

    private final class Cutting extends Connection {

        Cutting(int id, Socket proxySide, Socket cacheSide) {
            super(id, proxySide, cacheSide);
        }

        private boolean down() {
            return faulted() && System.nanoTime() - downUntilNanos < 0;
        }

        @Override
        void pumpProxyToCache() {
            if (down()) {
                log("REFUSED connection " + id + ": the link is down for "
                        + (downUntilNanos - System.nanoTime()) / 1_000_000 + " ms more");
                reset(proxySide);
                reset(cacheSide);
                return;
            }
            super.pumpProxyToCache();
        }

        @Override
        void pumpCacheToProxy() {
            if (down()) {
                return;
            }
            super.pumpCacheToProxy();
        }

        @Override
        void proxyToCache(byte[] buf, int n) {
            if (up + n >= afterBytes && !faulted() && claimFault()) {
                downUntilNanos = System.nanoTime() + downMillis * 1_000_000;
                log("CUT connection " + id + ": after " + (up + n) + " bytes proxy->cache; resetting both sockets,"
                        + " the link stays down for " + downMillis + " ms");
                reset(proxySide);
                reset(cacheSide);
            }
        }
    }
}
