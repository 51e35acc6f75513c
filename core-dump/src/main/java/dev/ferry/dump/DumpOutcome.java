package dev.ferry.dump;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A committed dump.
 *
 * @param bytes    image bytes captured
 * @param images   image files captured
 * @param duration from the start of the work dir to CRIU's exit
 * @param workDir  the dump's work dir, which keeps CRIU's logs and {@code stats-dump}
 * @param logPath  CRIU's log ({@code dump.log})
 */
public record DumpOutcome(long bytes, int images, Duration duration, Path workDir, Path logPath) {
}
