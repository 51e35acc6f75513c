package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * SNAPSHOT_RESTORED: the target restored a migrated snapshot and its tree runs there; the source may now be
 * ended.
 *
 * @param pid           root pid of the restored tree on the target
 * @param restoreMillis how long CRIU's restore took
 * @param bytes         bytes served to CRIU
 * @param terminal      a shell job's terminal on the target ({@code /dev/pts/N}), or empty
 * @param terminalLog   the file on the target its output goes to, or empty
 */
public record SnapshotRestored(SnapshotName snapshot, long pid, long restoreMillis, long bytes, String terminal,
                               String terminalLog) implements WireMessage {

    /** A restored tree without a terminal of the cache's. */
    public SnapshotRestored(SnapshotName snapshot, long pid, long restoreMillis, long bytes) {
        this(snapshot, pid, restoreMillis, bytes, "", "");
    }

    public SnapshotRestored {
        Objects.requireNonNull(snapshot, "snapshot");
        terminal = terminal == null ? "" : terminal;
        terminalLog = terminalLog == null ? "" : terminalLog;
        Messages.requireNotNegative("restored pid", pid);
        Messages.requireNotNegative("restore millis", restoreMillis);
        Messages.requireNotNegative("bytes", bytes);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_RESTORED;
    }
}
