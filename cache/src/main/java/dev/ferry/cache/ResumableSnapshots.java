package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The snapshots being received that may outlive their connection: begun with a retry budget, each has a resume token
 * (given to the proxy in SNAPSHOT_READY) and the identity of the peer that began it. When its connection drops before
 * the commit, the receive handler {@link #park parks} it here with what it was receiving, and a new connection of the
 * same peer that names it and its token {@link #claim claims} it; if none does within the budget (plus
 * {@link #GRACE}, since the two nodes see a drop at different moments) it is dropped and its memory freed.
 *
 * <p>Ownership: while parked, an entry owns its snapshot's place in the store and its peer's snapshot slot; a claim
 * hands both to the claiming connection. Thread-safe: connections on different event loops park and claim.
 */
final class ResumableSnapshots {

    private static final Logger LOG = Logger.getLogger(ResumableSnapshots.class.getName());
    /** Added to the proxy's budget before a parked snapshot is dropped. */
    static final Duration GRACE = Duration.ofSeconds(5);
    /** The longest budget a proxy may ask for: a parked snapshot holds memory nobody else may use. */
    static final Duration MAX_RETRY_FOR = Duration.ofMinutes(2);
    /** How long a claim waits for a still-attached connection to let go of the snapshot. */
    private static final long DETACH_WAIT_MILLIS = 5_000;
    private static final int EXPIRED_REMEMBERED = 64;

    private final SnapshotStore store;
    private final PeerSnapshots peerSnapshots;
    private final CacheEvents events;
    private final Duration grace;
    private final EventExecutor timers; // null: the parking connection's event loop
    private final SecureRandom random = new SecureRandom();
    private final Map<SnapshotName, Entry> entries = new HashMap<>();
    /** Names dropped after their budget ran out, and why, so that a late reattach gets a clear answer. */
    private final Map<SnapshotName, String> expired = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<SnapshotName, String> eldest) {
            return size() > EXPIRED_REMEMBERED;
        }
    };

    ResumableSnapshots(SnapshotStore store, PeerSnapshots peerSnapshots, CacheEvents events) {
        this(store, peerSnapshots, events, GRACE, null);
    }

    /**
     * @param grace  added to a proxy's budget before a parked snapshot is dropped (tests use less)
     * @param timers runs the drops, or null for the event loop of the connection that parked the snapshot
     */
    ResumableSnapshots(SnapshotStore store, PeerSnapshots peerSnapshots, CacheEvents events, Duration grace,
                       EventExecutor timers) {
        this.grace = grace;
        this.timers = timers;
        this.store = store;
        this.peerSnapshots = peerSnapshots;
        this.events = events;
    }

    /** What a connection was receiving when it dropped: handed over whole to the connection that claims it. */
    record Receiving(StoredSnapshot snapshot, Map<Integer, MemoryImage> streams, MigrateSpec migration, String peerKey) {
    }

    /** One resumable snapshot: attached to {@code channel}, or parked with {@code receiving} (channel null). */
    static final class Entry {
        final SnapshotName name;
        final long token;
        final String peer;
        volatile Duration retryFor;
        Channel channel;
        Receiving receiving;
        io.netty.util.concurrent.ScheduledFuture<?> expiry;
        CompletableFuture<Entry> parked = new CompletableFuture<>();

        Entry(SnapshotName name, long token, String peer, Duration retryFor, Channel channel) {
            this.name = name;
            this.token = token;
            this.peer = peer;
            this.retryFor = retryFor;
            this.channel = channel;
        }
    }

    /** The budget a proxy asked for, capped at {@link #MAX_RETRY_FOR}. */
    static Duration budget(long retryForMillis) {
        Duration asked = Duration.ofMillis(retryForMillis);
        return asked.compareTo(MAX_RETRY_FOR) > 0 ? MAX_RETRY_FOR : asked;
    }

    /** Makes a snapshot begun on {@code channel} by {@code peer} resumable; returns its entry, with a fresh token. */
    synchronized Entry register(SnapshotName name, String peer, Duration retryFor, Channel channel) {
        long token;
        do {
            token = random.nextLong();
        } while (token == 0);
        Entry e = new Entry(name, token, peer, retryFor, channel);
        entries.put(name, e);
        expired.remove(name);
        return e;
    }

    /** The snapshot was committed or given up on its connection: it is no longer resumable. */
    synchronized void forget(Entry e) {
        if (entries.get(e.name) == e) {
            entries.remove(e.name);
        }
        if (e.expiry != null) {
            e.expiry.cancel(false);
        }
    }

    /**
     * The connection of {@code e} dropped before the commit: keeps {@code receiving} for the budget, then drops it on
     * {@code executor}. Completes a claim that waits for the old connection to let go.
     */
    void park(Entry e, Receiving receiving, EventExecutor executor) {
        CompletableFuture<Entry> waiter;
        synchronized (this) {
            if (entries.get(e.name) != e) {
                return;
            }
            e.channel = null;
            e.receiving = receiving;
            Duration keep = e.retryFor.plus(grace);
            e.expiry = (timers != null ? timers : executor).schedule(() -> expire(e), keep.toMillis(), TimeUnit.MILLISECONDS);
            waiter = e.parked;
        }
        LOG.info(() -> "snapshot " + e.name + ": connection from " + e.peer + " lost before commit; kept "
                + e.retryFor.plus(grace).toMillis() + " ms for a reattach");
        waiter.complete(e);
    }

    private void expire(Entry e) {
        Receiving r;
        synchronized (this) {
            if (entries.get(e.name) != e || e.receiving == null) {
                return;
            }
            entries.remove(e.name);
            r = e.receiving;
            e.receiving = null;
            expired.put(e.name, "dropped at " + java.time.Instant.now() + " after its retry budget of "
                    + e.retryFor.toMillis() + " ms (+" + grace.toMillis() + " ms grace) ran out");
        }
        LOG.warning(() -> "snapshot " + e.name + ": no reattach from " + e.peer + " within "
                + e.retryFor.plus(grace).toMillis() + " ms; dropped");
        peerSnapshots.release(r.peerKey());
        if (store.drop(r.snapshot())) {
            events.snapshotDropped(r.snapshot(), "connection closed");
        }
    }

    /**
     * Claims snapshot {@code name} for {@code channel}: the token and the peer must match. A snapshot still attached to
     * another connection (the cache has not yet seen it drop) is taken from it: that connection is closed and the
     * claim completes once it has parked. Fails with REATTACH_REFUSED (wrong token or peer, or no detach within
     * 5 s) or NO_SUCH_SNAPSHOT (never resumable here, committed, or dropped after its budget).
     */
    CompletableFuture<Entry> claim(SnapshotName name, long token, String peer, Channel channel) {
        Entry e;
        Channel old;
        synchronized (this) {
            e = entries.get(name);
            if (e == null) {
                String why = expired.get(name);
                throw new ProtocolException(ErrorCode.NO_SUCH_SNAPSHOT, "SNAPSHOT_REATTACH " + name + ": "
                        + (why != null ? "the partial snapshot was " + why
                        : store.get(name).map(s -> "the snapshot is " + s.state() + ", not waiting for a reattach")
                        .orElse("no such snapshot is being received here"))
                        + " (expected: a reattach within --retry-for of the drop); the dump must start again");
            }
            if (e.token != token) {
                throw new ProtocolException(ErrorCode.REATTACH_REFUSED, "SNAPSHOT_REATTACH " + name
                        + ": wrong resume token (expected: the token of its SNAPSHOT_READY)");
            }
            if (!e.peer.equals(peer)) {
                throw new ProtocolException(ErrorCode.REATTACH_REFUSED, "SNAPSHOT_REATTACH " + name + " from " + peer
                        + " (expected: the peer that began it, " + e.peer + ")");
            }
            if (e.channel == channel) {
                throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "SNAPSHOT_REATTACH " + name
                        + " on the connection it is attached to (expected: only on a new connection)");
            }
            old = e.channel;
            if (old == null) {
                return CompletableFuture.completedFuture(take(e, channel));
            }
        }
        LOG.info(() -> "snapshot " + name + ": reattach from " + peer + " while its old connection " + old.remoteAddress()
                + " looks open; closing that one");
        old.close();
        return e.parked.orTimeout(DETACH_WAIT_MILLIS, TimeUnit.MILLISECONDS).handle((parked, failure) -> {
            if (failure != null) {
                throw new ProtocolException(ErrorCode.REATTACH_REFUSED, "SNAPSHOT_REATTACH " + name + ": its old"
                        + " connection did not let go within " + DETACH_WAIT_MILLIS + " ms; try again");
            }
            synchronized (this) {
                if (entries.get(name) != e || e.receiving == null) {
                    throw new ProtocolException(ErrorCode.NO_SUCH_SNAPSHOT, "SNAPSHOT_REATTACH " + name
                            + ": the snapshot was dropped meanwhile");
                }
                return take(e, channel);
            }
        });
    }

    private Entry take(Entry e, Channel channel) {
        if (e.expiry != null) {
            e.expiry.cancel(false);
            e.expiry = null;
        }
        e.channel = channel;
        e.parked = new CompletableFuture<>();
        return e;
    }

    /** Takes the parked state out of a claimed entry. */
    synchronized Receiving takeReceiving(Entry e) {
        Receiving r = e.receiving;
        e.receiving = null;
        return r;
    }

    /** How many snapshots wait for a reattach, for tests. */
    synchronized int parkedCount() {
        return (int) entries.values().stream().filter(e -> e.receiving != null).count();
    }
}
