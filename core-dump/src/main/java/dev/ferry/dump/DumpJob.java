package dev.ferry.dump;

import dev.ferry.criu.CriuOptions;
import dev.ferry.protocol.image.SnapshotName;
import java.time.Duration;
import java.util.Objects;

/**
 * One dump to run.
 *
 * @param pid           root of the process tree to dump ({@code criu dump -t})
 * @param snapshot      the snapshot the images go into (never used in a path)
 * @param options       CRIU options passed through
 * @param commitTimeout how long the post-dump barrier waits for the last images to drain and the sink to commit;
 *                      the source stays frozen meanwhile
 * @param timeout       how long CRIU may run in all before it is stopped (SIGTERM, then SIGKILL)
 */
public record DumpJob(long pid, SnapshotName snapshot, CriuOptions options, Duration commitTimeout, Duration timeout) {

    public DumpJob {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid: " + pid + " (expected: > 0)");
        }
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(options, "options");
        requirePositive(commitTimeout, "commit timeout");
        requirePositive(timeout, "timeout");
    }

    private static void requirePositive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + ": " + d + " (expected: > 0)");
        }
    }
}
