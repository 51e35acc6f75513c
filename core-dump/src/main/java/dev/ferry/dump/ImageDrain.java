package dev.ferry.dump;

import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.zip.CRC32C;

/**
 * Drains one image pipe from CRIU into its {@link ImageOutput}: {@link ImageOutput#transferFrom} reads the pipe
 * into the sink's own buffer (no copy in between), updates the CRC32C and sends, blocking while the sink applies
 * backpressure; at pipe EOF {@link ImageOutput#finish}. Runs on its own thread, because CRIU writes
 * several images at once and a pipe left unread stalls CRIU.
 *
 * <p>Ownership: owns the pipe's read channel and closes it when done or {@link #abort aborted}; closing it is how
 * a failure reaches CRIU (its next write gets EPIPE). The output belongs to the sink.
 */
final class ImageDrain implements Runnable {

    private final ImageName name;
    private final FileChannel pipe;
    private final ImageOutput output;
    private final BufferPool buffers;
    private final DumpListener events;
    private final BiConsumer<ImageDrain, Throwable> onFailure;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile ImageDigest digest;
    private volatile Throwable failure;
    private volatile boolean aborted;
    private volatile Thread thread;

    ImageDrain(ImageName name, FileChannel pipe, ImageOutput output, BufferPool buffers, DumpListener events,
               BiConsumer<ImageDrain, Throwable> onFailure) {
        this.name = name;
        this.pipe = pipe;
        this.output = output;
        this.buffers = buffers;
        this.events = events;
        this.onFailure = onFailure;
    }

    ImageName name() {
        return name;
    }

    void start() {
        Thread t = new Thread(this, "ferry-drain-" + name);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    @Override
    public void run() {
        ByteBuffer buffer = buffers.take();
        CRC32C crc = new CRC32C();
        long size = 0;
        try {
            while (true) {
                int n = output.transferFrom(pipe, crc, buffer);
                if (n < 0) {
                    break;
                }
                size += n;
                if (n > 0) {
                    events.bytes(n);
                }
            }
            output.finish(size, (int) crc.getValue());
            ImageDigest d = new ImageDigest(name, size, (int) crc.getValue());
            digest = d;
            events.imageFinished(d);
        } catch (Throwable t) {
            failure = t;
            if (!aborted) {
                onFailure.accept(this, t);
            }
        } finally {
            closePipe();
            buffers.give(buffer);
            done.countDown();
        }
    }

    /** Closes the pipe (a blocked read ends at once) and interrupts the thread; the drain then ends as failed. */
    void abort() {
        aborted = true;
        closePipe();
        Thread t = thread;
        if (t != null && done.getCount() > 0) {
            t.interrupt();
        }
    }

    /** Waits up to {@code nanos}; true if the drain has ended (successfully or not). */
    boolean await(long nanos) throws InterruptedException {
        return done.await(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    boolean isDone() {
        return done.getCount() == 0;
    }

    /** Size and CRC of the complete image, or null unless the drain ended successfully. */
    ImageDigest digest() {
        return digest;
    }

    Throwable failure() {
        return failure;
    }

    private void closePipe() {
        try {
            pipe.close();
        } catch (IOException ignored) {
            // closing a pipe's read end cannot lose data we still want
        }
    }
}
