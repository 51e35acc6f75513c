package dev.ferry.criu;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The page-server socket of the source's post-copy CRIU ({@code criu dump --lazy-pages}), handed to CRIU already
 * connected ({@code --ps-socket 3}), so that CRIU's page server never listens on a port. It stays a loopback TCP
 * socket, where the target's {@code criu lazy-pages} gets one end of a socket pair ({@code dev.ferry.posix.Spawn}):
 * only TCP can end with a reset ({@code SO_LINGER} 0), which CRIU 4.2 needs to read a failed transfer and resume
 * the source; an AF_UNIX socket can only end with EOF, which CRIU takes for a finished transfer.
 *
 * <p>The JDK cannot pass a descriptor to a child, so CRIU is started through {@code bash}, which connects fd 3 to a
 * one-shot listener on 127.0.0.1 (an ephemeral port), writes a 32-byte secret from its environment, and execs CRIU.
 * {@link #accept} takes only the connection that presents the secret, then closes the listener: another local
 * process that races to the port gets nothing (no pages, no way to feed pages). Without this, CRIU's own page server
 * would serve the frozen memory to whoever connects first, and its {@code accept} has no timeout (a source once sat
 * frozen 16 minutes waiting for a client that never came).
 *
 * <p>Ownership: owns the listener until {@link #close}; the accepted socket belongs to the caller.
 */
public final class PageServerSocket implements Closeable {

    /** The descriptor CRIU finds the socket on. */
    public static final int FD = 3;
    private static final int SECRET_BYTES = 32;
    private static final String SCRIPT = "exec 3<>/dev/tcp/127.0.0.1/\"$FERRY_PS_PORT\" && printf %s \"$FERRY_PS_SECRET\" >&3"
            + " && unset FERRY_PS_SECRET FERRY_PS_PORT && exec \"$@\"";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long GIVE_UP_POLL_MILLIS = 5;

    private final ServerSocketChannel listener;
    private final String secret;

    private PageServerSocket(ServerSocketChannel listener, String secret) {
        this.listener = listener;
        this.secret = secret;
    }

    /** A listener on 127.0.0.1, ephemeral port, of the caller's network namespace. */
    public static PageServerSocket listen() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        try {
            l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
            l.configureBlocking(false);
        } catch (IOException e) {
            l.close();
            throw new IOException("cannot listen on 127.0.0.1 for CRIU's page-server socket: " + e.getMessage()
                    + " (expected: the loopback interface up in this network namespace)", e);
        }
        byte[] b = new byte[SECRET_BYTES / 2];
        RANDOM.nextBytes(b);
        return new PageServerSocket(l, HexFormat.of().formatHex(b));
    }

    /** The secret CRIU's connection has to present (for tests: the launcher hands it to bash). */
    String secret() {
        return secret;
    }

    public int port() {
        return ((InetSocketAddress) listener.socket().getLocalSocketAddress()).getPort();
    }

    /**
     * Starts {@code criu ARGS} through {@code bash} with fd 3 connected to this listener; add {@code --ps-socket 3}
     * to ARGS. Same redirections as {@link Criu#launcher()}: stdin /dev/null, output appended to {@code criu.out}.
     */
    public CriuLauncher launcher(Criu criu) {
        return (args, workDir) -> {
            List<String> command = new ArrayList<>(List.of("/bin/bash", "-c", SCRIPT, "ferry-criu",
                    criu.executable().toString()));
            command.addAll(args);
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(workDir.resolve(Criu.OUTPUT_FILE).toFile()));
            builder.environment().put("FERRY_PS_PORT", Integer.toString(port()));
            builder.environment().put("FERRY_PS_SECRET", secret);
            return CriuProcess.of(builder.start());
        };
    }

    /**
     * Waits for CRIU's connection with the secret; other connections are closed. Closes the listener before it
     * returns.
     *
     * @param giveUp polled meanwhile: true (CRIU exited) ends the wait
     * @throws IOException if no connection presented the secret within {@code timeout}
     */
    public SocketChannel accept(Duration timeout, BooleanSupplier giveUp) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        // the source is frozen on the target's side of this wait: wake on the connection and on the secret's bytes,
        // not on a poll tick; the 5 ms bound is only how often CRIU's exit (giveUp) is looked at
        try (Selector selector = Selector.open()) {
            listener.register(selector, SelectionKey.OP_ACCEPT);
            while (System.nanoTime() - deadline < 0 && !giveUp.getAsBoolean()) {
                SocketChannel c = listener.accept();
                if (c == null) {
                    selector.select(GIVE_UP_POLL_MILLIS);
                    selector.selectedKeys().clear();
                    continue;
                }
                if (presentsSecret(c, deadline)) {
                    c.configureBlocking(true);
                    c.socket().setTcpNoDelay(true);
                    return c;
                }
                c.close();
            }
            throw new IOException("CRIU did not connect its page-server socket to 127.0.0.1:" + port() + " within "
                    + timeout.toMillis() + " ms" + (giveUp.getAsBoolean() ? " (it exited)" : "")
                    + " (expected: bash with /dev/tcp, and the loopback interface up)");
        } finally {
            close();
        }
    }

    private boolean presentsSecret(SocketChannel c, long deadline) throws IOException {
        c.configureBlocking(false);
        ByteBuffer got = ByteBuffer.allocate(SECRET_BYTES);
        long until = Math.min(deadline, System.nanoTime() + Duration.ofSeconds(2).toNanos());
        try (Selector selector = Selector.open()) {
            SelectionKey key = c.register(selector, SelectionKey.OP_READ);
            while (got.hasRemaining()) {
                if (c.read(got) < 0) {
                    return false;
                }
                long left = until - System.nanoTime();
                if (!got.hasRemaining() || left <= 0) {
                    break;
                }
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
            }
            key.cancel();
            selector.selectNow(); // deregisters, so that the channel can go back to blocking mode
        }
        return !got.hasRemaining() && secret.equals(new String(got.array(), StandardCharsets.US_ASCII));
    }

    /** Where CRIU's post-copy client and restore meet on the target: in their shared work dir. */
    public static Path lazySocket(Path workDir) {
        return workDir.resolve("lazy-pages.socket");
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
