package dev.ferry.dump;

import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.StreamerConnection;
import dev.ferry.criu.StreamerProtocolException;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.ImageSink;
import java.io.Closeable;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The capture side of one {@code criu dump --stream}: accepts CRIU's single connection on
 * {@code streamer-capture.sock}, reads its requests on one thread, and starts an {@link ImageDrain} thread per
 * image pipe, so every pipe CRIU keeps open is drained at the same time.
 *
 * <p>Failure: any engine-side problem (bad request, sink refusing an image, a drain failing) is recorded once and
 * makes CRIU fail: the connection and every pipe are closed, so CRIU's next write gets EPIPE and it rolls back.
 *
 * <p>Ownership: owns the accepted connection and the drains (not the listener, not the sink). Thread-safety:
 * {@link #run()} is the request thread; the query methods and {@link #close()} are safe from any thread.
 */
final class CaptureSession implements Runnable, Closeable {

    private static final System.Logger LOG = System.getLogger(CaptureSession.class.getName());
    private static final long QUIESCENT_POLL_MILLIS = 2;
    private static final int LARGE_PIPE_BYTES = 4 << 20;

    private final UnixListener listener;
    private final CriuProcess criu;
    private final ImageSink sink;
    private final DumpListener events;
    private final BufferPool buffers;
    private final List<ImageDrain> drains = new CopyOnWriteArrayList<>(); // CRIU's request order
    private final AtomicReference<IOException> failure = new AtomicReference<>();
    private final AtomicLong requestsRead = new AtomicLong();
    private volatile StreamerConnection connection;
    private volatile boolean idle;
    private volatile boolean ended;
    private volatile boolean closed;

    CaptureSession(UnixListener listener, CriuProcess criu, ImageSink sink, DumpListener events, BufferPool buffers) {
        this.listener = listener;
        this.criu = criu;
        this.sink = sink;
        this.events = events;
        this.buffers = buffers;
    }

    @Override
    public void run() {
        try {
            StreamerConnection c = acceptCriu();
            if (c != null) {
                events.phase(DumpListener.PHASE_CAPTURE);
                serveRequests(c);
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                fail(e instanceof IOException ? (IOException) e : new IOException("capture failed: " + e, e));
            }
        } finally {
            ended = true;
        }
    }

    /** Accepts CRIU's connection; null if CRIU exited without connecting or the session was closed. */
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
        Set<String> seen = new HashSet<>();
        while (true) {
            idle = true;
            String filename = c.readRequest();
            if (filename == null) {
                return; // CRIU closed the connection: end of the stream
            }
            requestsRead.incrementAndGet(); // before the fd byte is read, see awaitQuiescent
            idle = false;
            String problem = ImageName.problem(filename);
            if (problem != null) {
                throw new StreamerProtocolException("CRIU asked to capture an unusable " + problem);
            }
            if (!seen.add(filename)) {
                throw new StreamerProtocolException("CRIU opened image " + filename + " twice (expected: once per dump)");
            }
            startDrain(ImageName.of(filename), c.receivePipe());
        }
    }

    private void startDrain(ImageName name, FileDescriptorHandle pipe) throws IOException {
        FileChannel channel;
        try (pipe) {
            // best effort: fewer wake-ups per MiB, and room for CRIU to run ahead of the link (4 MiB needs
            // CAP_SYS_RESOURCE above fs.pipe-max-size, which root outside a user namespace has)
            if (Pipes.setPipeSize(pipe, LARGE_PIPE_BYTES) < 0) {
                Pipes.setPipeSize(pipe, BufferPool.BUFFER_BYTES);
            }
            channel = pipe.openChannel(false);
        }
        ImageOutput output;
        try {
            output = sink.open(name);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw new IOException("the image sink refused " + name + ": " + e.getMessage(), e);
        }
        ImageDrain drain = new ImageDrain(name, channel, output, buffers, events, this::drainFailed);
        drains.add(drain);
        events.imageOpened(name);
        drain.start();
        if (closed || failure.get() != null) {
            drain.abort();
        }
    }

    private void drainFailed(ImageDrain drain, Throwable cause) {
        fail(new IOException("capture of " + drain.name() + " failed: " + cause.getMessage(), cause));
    }

    /** Records the first failure and makes CRIU fail: closes the connection and every pipe. */
    void fail(IOException cause) {
        if (failure.compareAndSet(null, cause)) {
            LOG.log(Level.WARNING, "capture failed, making CRIU roll back: " + cause.getMessage());
        }
        closeConnectionAndPipes();
    }

    /** The first engine-side failure, or null. */
    IOException failure() {
        return failure.get();
    }

    /**
     * Waits until every request CRIU sent so far has been taken in (its drain started): the request thread waits
     * for a header and nothing is queued on the socket. At post-dump CRIU has sent every request, but the request
     * thread may still be behind. False if {@code deadlineNanos} passed first.
     */
    boolean awaitQuiescent(long deadlineNanos) throws InterruptedException {
        while (true) {
            if (ended || closed) {
                return true;
            }
            StreamerConnection c = connection;
            if (c != null) {
                long before = requestsRead.get();
                boolean idleBefore = idle;
                int queued;
                try {
                    queued = c.socket().available();
                } catch (IOException e) {
                    queued = 0; // closed: no more requests will be taken in
                }
                if (idleBefore && queued == 0 && idle && requestsRead.get() == before) {
                    return true;
                }
            }
            if (System.nanoTime() - deadlineNanos >= 0) {
                return false;
            }
            Thread.sleep(QUIESCENT_POLL_MILLIS);
        }
    }

    /** Waits until every drain started so far has ended; false if {@code deadlineNanos} passed first. */
    boolean awaitDrains(long deadlineNanos) throws InterruptedException {
        for (ImageDrain drain : drains) {
            if (!drain.await(deadlineNanos - System.nanoTime())) {
                return false;
            }
        }
        return true;
    }

    /** Names of images whose drain has not ended, for messages. */
    List<String> pendingImages() {
        List<String> pending = new ArrayList<>();
        for (ImageDrain drain : drains) {
            if (!drain.isDone()) {
                pending.add(drain.name().value());
            }
        }
        return pending;
    }

    /** Digests in CRIU's request order; only valid once every drain ended successfully. */
    List<ImageDigest> manifest() {
        List<ImageDigest> manifest = new ArrayList<>(drains.size());
        for (ImageDrain drain : drains) {
            ImageDigest digest = drain.digest();
            if (digest == null) {
                throw new IllegalStateException("image " + drain.name() + " has not been drained completely");
            }
            manifest.add(digest);
        }
        return manifest;
    }

    /** Whether CRIU connected at all. */
    boolean connected() {
        return connection != null;
    }

    /** Stops the session without waiting: closes the connection and every pipe. Idempotent. */
    @Override
    public void close() {
        closed = true;
        closeConnectionAndPipes();
    }

    private void closeConnectionAndPipes() {
        StreamerConnection c = connection;
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                LOG.log(Level.DEBUG, "closing CRIU's streamer connection: " + e.getMessage());
            }
        }
        for (ImageDrain drain : drains) {
            if (!drain.isDone()) {
                drain.abort();
            }
        }
    }
}
