package dev.ferry.restore;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.MemoryRegion;
import dev.ferry.protocol.image.StoredImage;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Optional;

/**
 * Puts one stored image into the pipe CRIU passed, then closes it (EOF = end of the image). Runs on its own
 * thread: CRIU reads a pagemap's head, then asks for the pages before reading on, so a writer blocked on a full
 * pipe must never hold up the request loop. A broken pipe (CRIU stopped reading) is logged, not fatal.
 *
 * <p>An image held in native memory ({@link StoredImage#regions()}) is given to the pipe by reference with
 * {@code vmsplice(2)}: the pipe holds the store's pages and CRIU's read is the only copy. The store keeps the
 * memory unchanged until CRIU has exited (the {@code regions()} contract), which is after the last read from this
 * pipe, so closing the pipe with pages still in it is safe. Other images are written with {@code write(2)}.
 *
 * <p>Ownership: owns the received pipe end until it is closed at the end of {@link #run()}.
 */
final class ImageServeTask implements Runnable {

    private static final System.Logger LOG = System.getLogger(ImageServeTask.class.getName());
    /**
     * The pipe size asked for first: a whole pool chunk per round trip. Above {@code /proc/sys/fs/pipe-max-size}
     * (1 MiB by default) only with CAP_SYS_RESOURCE, which the daemon has as root outside a user namespace.
     */
    static final int LARGE_PIPE_BYTES = 4 << 20;
    /** Otherwise. */
    static final int PIPE_BYTES = 1 << 20;

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
            raisePipeSize(); // best effort: fewer round trips through CRIU
            Optional<List<MemoryRegion>> regions = image.regions();
            if (regions.isPresent()) {
                try (pipe) {
                    for (MemoryRegion region : regions.get()) {
                        Pipes.vmspliceFully(pipe, region.address(), region.length());
                    }
                }
            } else {
                FileChannel channel;
                try (pipe) {
                    channel = pipe.openChannel(true);
                }
                try (channel) {
                    image.writeTo(channel);
                }
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

    private void raisePipeSize() {
        if (Pipes.setPipeSize(pipe, LARGE_PIPE_BYTES) > 0) {
            return;
        }
        Pipes.setPipeSize(pipe, PIPE_BYTES);
    }
}
