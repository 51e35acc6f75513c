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
 */
public record RestoreOutcome(long restoredPid, long bytesServed, int imagesServed, int imagesMissing, Duration duration,
                             Path workDir, Path logPath) {
}
