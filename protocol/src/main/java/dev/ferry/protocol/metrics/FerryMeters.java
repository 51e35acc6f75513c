package dev.ferry.protocol.metrics;

import java.util.List;

/**
 * Every meter ferry itself registers, with its description; {@code docs/metrics.md} mirrors this list (a test
 * checks it). Names are lowercase and dotted with the {@code ferry.} prefix, in base units (bytes, seconds);
 * the Prometheus registry turns {@code ferry.image.sent} with unit bytes into {@code ferry_image_sent_bytes_total}.
 * Tags are bounded: {@code role} on every meter (proxy, cache), {@code outcome}, {@code image.kind}, {@code code},
 * {@code state}; never a pid, file or snapshot name.
 */
public final class FerryMeters {

    /** One meter: its name, type, base unit (or null), tags besides {@code role}, and what it means. */
    public record Meter(String name, String type, String unit, List<String> tags, String description) {
    }

    public static final String TAG_ROLE = "role";
    public static final String TAG_OUTCOME = "outcome";
    public static final String TAG_IMAGE_KIND = "image.kind";
    public static final String TAG_CODE = "code";
    public static final String TAG_STATE = "state";

    public static final String ROLE_PROXY = "proxy";
    public static final String ROLE_CACHE = "cache";

    /** The snapshot reached the cache verified (proxy: acknowledged; cache: verified and acknowledged). */
    public static final String OUTCOME_COMMITTED = "committed";
    /** The snapshot was begun but never committed (CRIU failed, the link broke, the proxy gave up). */
    public static final String OUTCOME_ABORTED = "aborted";
    /** The snapshot never began: the cache refused it (name taken, no room, limit) or could not be reached. */
    public static final String OUTCOME_REFUSED = "refused";
    /** An image or the manifest failed verification at the cache; the snapshot is never served. */
    public static final String OUTCOME_BAD = "bad";
    /** A restore from the cache succeeded. */
    public static final String OUTCOME_RESTORED = "restored";
    /** A restore from the cache failed; the snapshot stays for a retry. */
    public static final String OUTCOME_RESTORE_FAILED = "restore_failed";

    private static final String COUNTER = "counter";
    private static final String GAUGE = "gauge";
    private static final String TIMER = "timer";
    private static final String BYTES = "bytes";
    private static final String SECONDS = "seconds";

    // proxy
    public static final Meter IMAGE_SENT = new Meter("ferry.image.sent", COUNTER, BYTES, List.of(),
            "Image bytes the image-proxy captured from CRIU and sent to the image-cache.");
    public static final Meter IMAGES_SENT = new Meter("ferry.images.sent", COUNTER, null, List.of(TAG_IMAGE_KIND),
            "Image files the image-proxy sent completely.");
    public static final Meter DUMP_DURATION = new Meter("ferry.dump.duration", TIMER, SECONDS, List.of(TAG_OUTCOME),
            "Dumps, from the start of CRIU to its exit (outcome committed or aborted).");
    public static final Meter DUMP_FROZEN = new Meter("ferry.dump.frozen", TIMER, SECONDS, List.of(),
            "How long CRIU kept the source frozen (frozen_time of CRIU's stats-dump), per dump that wrote it.");
    public static final Meter LINK_RECONNECTS = new Meter("ferry.link.reconnects", COUNTER, null, List.of(),
            "Attempts of the image-proxy to reconnect to the image-cache after a link dropped mid-transfer (--retry-for).");

    // cache
    public static final Meter LAZY_SENT = new Meter("ferry.lazy.sent", COUNTER, BYTES, List.of(),
            "Post-copy page bytes the image-proxy tunnelled from the source's CRIU page server to the target.");
    public static final Meter LAZY_RECEIVED = new Meter("ferry.lazy.received", COUNTER, BYTES, List.of(),
            "Post-copy page bytes the image-cache handed to the target's criu lazy-pages.");
    public static final Meter LAZY_FAULTS = new Meter("ferry.lazy.faults", COUNTER, null, List.of(),
            "Post-copy page faults of restored trees that the target's criu lazy-pages served on demand.");
    public static final Meter IMAGE_RECEIVED = new Meter("ferry.image.received", COUNTER, BYTES, List.of(),
            "Image bytes the image-cache received from image-proxies (IMAGE_DATA payloads).");
    public static final Meter IMAGES_RECEIVED = new Meter("ferry.images.received", COUNTER, null,
            List.of(TAG_IMAGE_KIND), "Image files the image-cache received completely and checked (size, CRC32C).");
    public static final Meter IMAGE_SERVED = new Meter("ferry.image.served", COUNTER, BYTES, List.of(),
            "Image bytes the image-cache served completely to CRIU restores.");
    public static final Meter IMAGES_SERVED = new Meter("ferry.images.served", COUNTER, null, List.of(TAG_IMAGE_KIND),
            "Image files the image-cache served completely to CRIU restores.");
    public static final Meter RECEIVE_DURATION = new Meter("ferry.snapshot.receive.duration", TIMER, SECONDS,
            List.of(TAG_OUTCOME), "Snapshots received, from SNAPSHOT_BEGIN to the commit or the drop (outcome "
            + "committed, aborted or bad).");
    public static final Meter RESTORE_DURATION = new Meter("ferry.restore.duration", TIMER, SECONDS,
            List.of(TAG_OUTCOME), "Restores, from the start of CRIU to its exit (outcome restored or restore_failed).");
    public static final Meter MEMORY_USED = new Meter("ferry.cache.memory.used", GAUGE, BYTES, List.of(),
            "Image memory the image-cache holds now (reserved chunks), of --max-memory.");
    public static final Meter MEMORY_FREE = new Meter("ferry.cache.memory.free", GAUGE, BYTES, List.of(),
            "Image memory the image-cache may still take: --max-memory minus what it holds.");
    public static final Meter MEMORY_LIMIT = new Meter("ferry.cache.memory.limit", GAUGE, BYTES, List.of(),
            "--max-memory of the image-cache.");
    public static final Meter MEMORY_IDLE = new Meter("ferry.cache.memory.idle", GAUGE, BYTES, List.of(),
            "Image memory the image-cache keeps for the next snapshot: chunks of dropped snapshots, given back to the"
                    + " system after 5 minutes unused.");
    public static final Meter SNAPSHOTS_HELD = new Meter("ferry.cache.snapshots", GAUGE, null, List.of(TAG_STATE),
            "Snapshots the image-cache holds now, by state (receiving, committed, restoring, bad).");

    // both
    public static final Meter SNAPSHOTS = new Meter("ferry.snapshots", COUNTER, null, List.of(TAG_OUTCOME),
            "Snapshots by outcome. Proxy: committed, aborted, refused. Cache: committed, aborted, refused, bad, "
            + "restored, restore_failed.");
    public static final Meter CONNECTIONS = new Meter("ferry.connections.active", GAUGE, null, List.of(),
            "Open proxy-cache connections (proxy: links to the cache; cache: connections from proxies).");
    public static final Meter ERRORS = new Meter("ferry.errors", COUNTER, null, List.of(TAG_CODE),
            "Errors on the proxy-cache link by ErrorCode (proxy: codes the cache answered; cache: codes it sent).");
    public static final Meter NETTY_DIRECT = new Meter("ferry.netty.allocator.used.direct", GAUGE, BYTES, List.of(),
            "Direct memory held by Netty's default ByteBuf allocator (socket buffers, frames; the cache's image "
            + "chunks too).");
    public static final Meter NETTY_HEAP = new Meter("ferry.netty.allocator.used.heap", GAUGE, BYTES, List.of(),
            "Heap memory held by Netty's default ByteBuf allocator.");

    /** Every meter above, in the order of docs/metrics.md. */
    public static final List<Meter> ALL = List.of(IMAGE_SENT, IMAGES_SENT, LAZY_SENT, LAZY_RECEIVED, LAZY_FAULTS, DUMP_DURATION, DUMP_FROZEN,
            LINK_RECONNECTS,
            IMAGE_RECEIVED, IMAGES_RECEIVED, IMAGE_SERVED, IMAGES_SERVED, RECEIVE_DURATION, RESTORE_DURATION,
            MEMORY_USED, MEMORY_FREE, MEMORY_LIMIT, MEMORY_IDLE, SNAPSHOTS_HELD, SNAPSHOTS, CONNECTIONS, ERRORS, NETTY_DIRECT,
            NETTY_HEAP);

    private FerryMeters() {
    }

    /**
     * The bounded kind of a CRIU image name, for {@link #TAG_IMAGE_KIND}: {@code pages}, {@code pagemap},
     * {@code core}, {@code mm}, {@code inventory}, {@code pstree}, {@code files}, {@code fdinfo}, or {@code other}.
     */
    public static String imageKind(String imageName) {
        String n = imageName == null ? "" : imageName;
        for (String kind : List.of("pages", "pagemap", "core", "mm", "inventory", "pstree", "files", "fdinfo")) {
            if (n.equals(kind + ".img") || n.startsWith(kind + "-")) {
                return kind;
            }
        }
        return "other";
    }
}
