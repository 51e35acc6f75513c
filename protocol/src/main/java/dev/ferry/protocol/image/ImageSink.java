package dev.ferry.protocol.image;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where the dump engine sends the images of one snapshot as CRIU writes them (the proxy implements it
 * with a connection to the cache; tests with memory).
 *
 * <p>Thread-safety: {@link #open} is called from the capture's request thread, each {@link ImageOutput}
 * from its own drain thread, several at once; {@link #commit} and {@link #abort} from the engine's
 * post-dump barrier. Implementations must be safe for that use.
 */
public interface ImageSink {

    /** Opens the stream of one image. Called in CRIU's request order. */
    ImageOutput open(ImageName name) throws IOException;

    /**
     * Every image is complete (CRIU's post-dump): asks the target to verify the snapshot against this
     * manifest. The future completes when the target has acknowledged the verified snapshot, and
     * completes exceptionally if it refused it or the link broke. When the engine stops waiting it calls
     * {@code cancel(false)} on the future; a sink whose commit can no longer be undone (a migration whose target
     * was told to resume its tree) refuses, returning false, and completes the future soon after.
     */
    CompletableFuture<Void> commit(List<ImageDigest> manifest);

    /** The dump failed or was given up: the target drops what it holds of this snapshot. Idempotent. */
    void abort(String reason);
}
