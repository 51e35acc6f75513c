package dev.ferry.cache;

import java.time.Duration;
import java.util.Objects;

/**
 * What one image-cache accepts from its peers, so that hostile or broken input meets a clear error and
 * never exhausts the daemon. Defaults are named constants; the CLI maps flags onto them.
 *
 * @param handshakeTimeout how long a new connection may take to complete its hello (slow-loris guard)
 * @param idleTimeout      how long a connection may stay silent (no byte received), whatever its state
 * @param maxConnections   connections open at once
 * @param maxImagesPerSnapshot images one snapshot may hold
 * @param maxSnapshotsPerPeer  snapshots being received at once from one peer address
 */
public record CacheLimits(Duration handshakeTimeout, Duration idleTimeout, int maxConnections,
                          int maxImagesPerSnapshot, int maxSnapshotsPerPeer) {

    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(120);
    public static final int DEFAULT_MAX_CONNECTIONS = 64;
    public static final int DEFAULT_MAX_IMAGES_PER_SNAPSHOT = 100_000;
    public static final int DEFAULT_MAX_SNAPSHOTS_PER_PEER = 16;

    public CacheLimits {
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (maxConnections < 1 || maxImagesPerSnapshot < 1 || maxSnapshotsPerPeer < 1) {
            throw new IllegalArgumentException("cache limits must be >= 1 (found: connections " + maxConnections
                    + ", images " + maxImagesPerSnapshot + ", snapshots per peer " + maxSnapshotsPerPeer + ")");
        }
    }

    public static CacheLimits defaults() {
        return new CacheLimits(DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_MAX_IMAGES_PER_SNAPSHOT, DEFAULT_MAX_SNAPSHOTS_PER_PEER);
    }
}
