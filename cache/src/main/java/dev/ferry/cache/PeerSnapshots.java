package dev.ferry.cache;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * How many snapshots each peer address is sending at once, for {@link CacheLimits#maxSnapshotsPerPeer()}.
 * Every successful {@link #tryAcquire} is matched by one {@link #release} when that snapshot is committed
 * or dropped. Shared by all connections of one image-cache; thread-safe.
 */
final class PeerSnapshots {

    private final ConcurrentMap<String, Integer> receiving = new ConcurrentHashMap<>();

    /** Counts one more snapshot for {@code peer}; false (and nothing counted) if it already has {@code max}. */
    boolean tryAcquire(String peer, int max) {
        boolean[] acquired = new boolean[1];
        receiving.compute(peer, (k, n) -> {
            int now = n == null ? 0 : n;
            acquired[0] = now < max;
            return acquired[0] ? now + 1 : (n == null ? null : n);
        });
        return acquired[0];
    }

    void release(String peer) {
        receiving.computeIfPresent(peer, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** The key of a remote address: its IP address alone, so that all ports of one host count together. */
    static String keyOf(SocketAddress remote) {
        return remote instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress() : String.valueOf(remote);
    }

    int receiving(String peer) {
        return receiving.getOrDefault(peer, 0);
    }
}
