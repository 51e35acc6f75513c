package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.image.SnapshotName;
import java.util.Objects;

/**
 * CHANNEL_OPEN: the cache opens byte channel {@code streamId} (an id space of its own, 1 or more) for
 * {@code snapshot}. The only kind is {@link #PAGE_SERVER}: the target's {@code criu lazy-pages} connection,
 * which the proxy joins to the source's {@code criu dump --lazy-pages} page server.
 */
public record ChannelOpen(int streamId, SnapshotName snapshot, String kind) implements WireMessage {

    /** The kind of a post-copy channel: CRIU's page-server protocol, carried as opaque bytes. */
    public static final String PAGE_SERVER = "page-server";

    public ChannelOpen {
        Messages.requireImageStream(streamId);
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(kind, "kind");
    }

    @Override
    public FrameType type() {
        return FrameType.CHANNEL_OPEN;
    }
}
