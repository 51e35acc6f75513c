package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * SNAPSHOT_REATTACH: on a new connection, after HELLO, continue {@code snapshot}, whose connection dropped before
 * its commit was acknowledged.
 *
 * @param token          the resume token the cache gave in SNAPSHOT_READY
 * @param retryForMillis the retry budget for a later drop of this connection
 */
public record SnapshotReattach(SnapshotName snapshot, long token, long retryForMillis) implements WireMessage {
    public SnapshotReattach {
        Objects.requireNonNull(snapshot, "snapshot");
        Messages.requireNotNegative("retry for millis", retryForMillis);
    }

    @Override
    public FrameType type() {
        return FrameType.SNAPSHOT_REATTACH;
    }

    @Override
    public String toString() {
        return "SnapshotReattach[snapshot=" + snapshot + ", token=(hidden), retryForMillis=" + retryForMillis + "]";
    }
}
