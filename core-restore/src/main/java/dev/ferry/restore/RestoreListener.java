package dev.ferry.restore;

import dev.ferry.protocol.image.ImageName;

/**
 * Progress events of one restore, for progress display and metrics. Every method has a no-op default.
 *
 * <p>Threads: {@link #phase} comes from the engine's threads in order; {@link #imageMissing} from the request
 * thread; {@link #imageServed} from serving threads, several at once. Implementations must be thread-safe.
 */
public interface RestoreListener {

    /** CRIU has been started. */
    String PHASE_CRIU = "criu";
    /** CRIU connected to the serve socket. */
    String PHASE_SERVE = "serve";
    /** The tree is restored and held at CRIU's post-restore; the job's {@link ResumeGate} is being asked. */
    String PHASE_HELD = "held";
    /** The gate let the tree resume. */
    String PHASE_RESUME = "resume";

    RestoreListener NONE = new RestoreListener() {
    };

    default void phase(String phase) {
    }

    /** The image was written completely into CRIU's pipe. */
    default void imageServed(ImageName name, long bytes) {
    }

    /** CRIU asked for an image the snapshot does not hold; it was told "does not exist". */
    default void imageMissing(ImageName name) {
    }
}
