package dev.ferry.restore;

import dev.ferry.criu.CriuOptions;
import dev.ferry.protocol.image.SnapshotName;
import java.time.Duration;
import java.util.Objects;

/**
 * One restore to run.
 *
 * @param snapshot the snapshot whose images are served (never used in a path)
 * @param options  CRIU options passed through
 * @param timeout  how long CRIU may run before it is stopped (SIGTERM, then SIGKILL)
 */
public record RestoreJob(SnapshotName snapshot, CriuOptions options, Duration timeout) {

    public RestoreJob {
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
        }
    }
}
