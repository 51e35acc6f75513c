package dev.ferry.cli;

import dev.ferry.cache.CacheLimits;
import picocli.CommandLine.Option;

import java.time.Duration;

/** The image-cache's limits on what peers may send ({@link CacheLimits}). */
final class CacheLimitOptions {

    @Option(names = "--handshake-timeout", paramLabel = "SECONDS", description = "Close connections that have not said hello by then (default: ${DEFAULT-VALUE}).")
    long handshakeTimeoutSeconds = CacheLimits.DEFAULT_HANDSHAKE_TIMEOUT.toSeconds();

    @Option(names = "--idle-timeout", paramLabel = "SECONDS", description = "Close connections silent that long (default: ${DEFAULT-VALUE}).")
    long idleTimeoutSeconds = CacheLimits.DEFAULT_IDLE_TIMEOUT.toSeconds();

    @Option(names = "--max-connections", paramLabel = "N", description = "Connections open at once (default: ${DEFAULT-VALUE}).")
    int maxConnections = CacheLimits.DEFAULT_MAX_CONNECTIONS;

    @Option(names = "--max-images", paramLabel = "N", description = "Images per snapshot (default: ${DEFAULT-VALUE}).")
    int maxImages = CacheLimits.DEFAULT_MAX_IMAGES_PER_SNAPSHOT;

    @Option(names = "--max-snapshots-per-peer", paramLabel = "N", description = "Snapshots received at once from one peer address (default: ${DEFAULT-VALUE}).")
    int maxSnapshotsPerPeer = CacheLimits.DEFAULT_MAX_SNAPSHOTS_PER_PEER;

    CacheLimits limits() {
        if (handshakeTimeoutSeconds < 1 || idleTimeoutSeconds < 1) {
            throw new IllegalArgumentException("--handshake-timeout/--idle-timeout: " + handshakeTimeoutSeconds + "/"
                    + idleTimeoutSeconds + " (expected: >= 1 second)");
        }
        return new CacheLimits(Duration.ofSeconds(handshakeTimeoutSeconds), Duration.ofSeconds(idleTimeoutSeconds),
                maxConnections, maxImages, maxSnapshotsPerPeer);
    }
}
