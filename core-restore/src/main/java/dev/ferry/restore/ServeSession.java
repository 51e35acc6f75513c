package dev.ferry.restore;

import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageSource;
import dev.ferry.protocol.image.StoredImage;
import java.io.Closeable;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The serve side of one {@code criu restore --stream}: accepts CRIU's single connection on
 * {@code streamer-serve.sock}, answers each request with {@code exists} (always encoded), and for an existing
 * image receives the pipe's write end and hands it to a thread of its own. The request loop never writes image
 * bytes itself, so it is always ready for CRIU's next request. The loop ends at EOF on the connection.
 *
 * <p>Failure: a broken request or a source that throws ends the loop and closes the connection, so CRIU fails.
 *
 * <p>Ownership: owns the accepted connection and the serving threads (not the listener, not the source).
 * Thread-safety: {@link #run()} is the request thread; the rest is safe from any thread.
 */
final class ServeSession implements Runnable, Closeable {

    private static final System.Logger LOG = System.getLogger(ServeSession.class.getName());

    private final UnixListener listener;
    private final CriuProcess criu;
    private final ImageSource source;
    private final RestoreListener events;
    private final ServeTally tally;
    private final List<Thread> servers = new CopyOnWriteArrayList<>();
    private volatile StreamerConnection connection;
    private volatile IOException failure;
    private volatile boolean closed;

    ServeSession(UnixListener listener, CriuProcess criu, ImageSource source, RestoreListener events, ServeTally tally) {
        this.listener = listener;
        this.criu = criu;
        this.source = source;
        this.events = events;
        this.tally = tally;
    }

    @Override
    public void run() {
        try {
            StreamerConnection c = acceptCriu();
            if (c != null) {
                events.phase(RestoreListener.PHASE_SERVE);
                serveRequests(c);
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                failure = e instanceof IOException ? (IOException) e : new IOException("serving failed: " + e, e);
                LOG.log(Level.WARNING, "serving CRIU failed, closing its connection: " + e.getMessage());
            }
        } finally {
            closeConnection();
        }
    }

    private StreamerConnection acceptCriu() throws IOException {
        StreamerConnection c = StreamerConnection.accept(listener, criu, () -> closed);
        if (c == null) {
            return null;
        }
        connection = c;
        if (closed) {
            c.close();
            return null;
        }
        return c;
    }

    private void serveRequests(StreamerConnection c) throws IOException {
        while (true) {
            String filename = c.readRequest();
            if (filename == null) {
                return; // CRIU closed the connection: the restore no longer needs images
            }
            Optional<StoredImage> image = Optional.empty();
            ImageName name = null;
            if (ImageName.problem(filename) == null) {
                name = ImageName.of(filename);
                image = source.find(name);
            } else {
                LOG.log(Level.WARNING, "CRIU asked for an unusable " + ImageName.problem(filename) + "; answering: does not exist");
            }
            c.reply(image.isPresent());
            if (image.isEmpty()) {
                tally.missing();
                if (name != null) {
                    events.imageMissing(name);
                }
                continue;
            }
            FileDescriptorHandle pipe = c.receivePipe();
            Thread server = new Thread(new ImageServeTask(name, image.get(), pipe, tally, events), "ferry-serve-" + name);
            server.setDaemon(true);
            servers.add(server);
            server.start();
        }
    }

    /** Waits until every serving thread has ended or {@code deadlineNanos} passed; true if all ended. */
    boolean awaitServers(long deadlineNanos) throws InterruptedException {
        for (Thread server : servers) {
            long millis = Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000);
            server.join(millis);
            if (server.isAlive()) {
                return false;
            }
        }
        return true;
    }

    /** Why serving stopped early, or null. */
    IOException failure() {
        return failure;
    }

    boolean connected() {
        return connection != null;
    }

    /** Stops serving: closes the connection and interrupts serving threads (a blocked pipe write ends). Idempotent. */
    @Override
    public void close() {
        closed = true;
        closeConnection();
        for (Thread server : servers) {
            server.interrupt();
        }
    }

    private void closeConnection() {
        StreamerConnection c = connection;
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "closing CRIU's streamer connection: " + e.getMessage());
            }
        }
    }
}
