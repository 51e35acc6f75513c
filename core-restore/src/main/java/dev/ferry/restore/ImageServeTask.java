package dev.ferry.restore;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.StoredImage;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;

/**
 * Writes one stored image into the pipe CRIU passed, then closes it (EOF = end of the image). Runs on its own
 * thread: CRIU reads a pagemap's head, then asks for the pages before reading on, so a writer blocked on a full
 * pipe must never hold up the request loop. A broken pipe (CRIU stopped reading) is logged, not fatal.
 *
 * <p>Ownership: owns the received pipe end until it is closed at the end of {@link #run()}.
 */
final class ImageServeTask implements Runnable {

    private static final System.Logger LOG = System.getLogger(ImageServeTask.class.getName());
    private static final int PIPE_BYTES = 1 << 20;

    private final ImageName name;
    private final StoredImage image;
    private final FileDescriptorHandle pipe;
    private final ServeTally tally;
    private final RestoreListener events;

    ImageServeTask(ImageName name, StoredImage image, FileDescriptorHandle pipe, ServeTally tally, RestoreListener events) {
        this.name = name;
        this.image = image;
        this.pipe = pipe;
        this.tally = tally;
        this.events = events;
    }

    @Override
    public void run() {
        try {
            FileChannel channel;
            try (pipe) {
                Pipes.setPipeSize(pipe, PIPE_BYTES); // best effort: fewer round trips through CRIU
                channel = pipe.openChannel(true);
            }
            try (channel) {
                image.writeTo(channel);
            }
            long size = image.size();
            tally.served(size);
            events.imageServed(name, size);
        } catch (IOException | RuntimeException e) {
            tally.brokenPipe();
            LOG.log(Level.WARNING, "serving " + name + " to CRIU stopped: " + e.getMessage()
                    + " (CRIU closed its end; its log says why if the restore fails)");
        } finally {
            pipe.closeQuietly();
        }
    }
}
