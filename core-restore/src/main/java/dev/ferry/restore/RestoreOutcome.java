package dev.ferry.restore;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A successful restore.
 *
 * @param restoredPid   pid of the restored tree's root, from CRIU's {@code --pidfile}
 * @param bytesServed   bytes of the images served completely
 * @param imagesServed  images served completely
 * @param imagesMissing requests answered "does not exist" (CRIU asks for optional images)
 * @param duration      from the start of the work dir to CRIU's exit
 * @param workDir       the restore's work dir, which keeps CRIU's logs, {@code stats-restore} and the pid file
 * @param logPath       CRIU's log ({@code restore.log})
 * @param terminal      the terminal a {@code --shell-job} restore gave the tree, still open and owned by the engine's
 *                      {@link JobTerminals}; null for other restores
 */
public record RestoreOutcome(long restoredPid, long bytesServed, int imagesServed, int imagesMissing, Duration duration,
                             Path workDir, Path logPath, JobTerminal terminal) {

    /** A restore without a terminal. */
    public RestoreOutcome(long restoredPid, long bytesServed, int imagesServed, int imagesMissing, Duration duration,
                          Path workDir, Path logPath) {
        this(restoredPid, bytesServed, imagesServed, imagesMissing, duration, workDir, logPath, null);
    }
}
