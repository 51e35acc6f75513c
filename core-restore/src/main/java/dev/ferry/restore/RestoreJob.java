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
 * @param gate     asked at CRIU's post-restore whether the tree may resume, or null to let it resume at once
 */
public record RestoreJob(SnapshotName snapshot, CriuOptions options, Duration timeout, ResumeGate gate) {

    /** A restore whose tree resumes as soon as CRIU has restored it. */
    public RestoreJob(SnapshotName snapshot, CriuOptions options, Duration timeout) {
        this(snapshot, options, timeout, null);
    }

    public RestoreJob {
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
        }
    }
}
