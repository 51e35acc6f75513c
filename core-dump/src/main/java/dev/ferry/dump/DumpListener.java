package dev.ferry.dump;

import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;

/**
 * Progress events of one dump, for progress display and metrics. Every method has a no-op default.
 *
 * <p>Threads: {@link #phase} comes from the engine's threads in order; {@link #imageOpened} from the capture's
 * request thread; {@link #bytes} and {@link #imageFinished} from drain threads, several at once. Implementations
 * must be thread-safe and quick: drain threads call them between reads.
 */
public interface DumpListener {

    /** CRIU has been started. */
    String PHASE_CRIU = "criu";
    /** CRIU connected to the capture socket. */
    String PHASE_CAPTURE = "capture";
    /** CRIU reached post-dump: every image is written, the source is frozen. */
    String PHASE_POST_DUMP = "post-dump";
    /** The manifest went to the sink; waiting for its commit. */
    String PHASE_COMMIT = "commit";
    /** The sink committed the snapshot; CRIU finishes (kills or leaves the source running). */
    String PHASE_COMMITTED = "committed";

    DumpListener NONE = new DumpListener() {
    };

    default void phase(String phase) {
    }

    default void imageOpened(ImageName name) {
    }

    default void bytes(long delta) {
    }

    default void imageFinished(ImageDigest digest) {
    }
}
