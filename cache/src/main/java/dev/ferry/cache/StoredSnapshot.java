package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageSource;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.image.StoredImage;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One snapshot in the cache: its images and its state. Images are added while it is
 * {@link State#RECEIVING}; only a {@link State#COMMITTED} snapshot (manifest verified) is served to a
 * restore. Ownership: the {@link SnapshotStore} owns snapshots; a snapshot owns its images' memory.
 */
public final class StoredSnapshot implements ImageSource {

    /**
     * Lifecycle: RECEIVING → COMMITTED → (RESTORING → COMMITTED)*, or RECEIVING → BAD when an image or the
     * manifest fails verification (its memory is freed at once; the name and the reason stay, so a restore
     * says why it will never be served). Dropped snapshots leave the store.
     */
    public enum State { RECEIVING, COMMITTED, RESTORING, BAD }

    private final SnapshotName name;
    private final String source;
    private final Instant created = Instant.now();
    private final Map<ImageName, MemoryImage> images = new ConcurrentHashMap<>();
    private volatile State state = State.RECEIVING;
    private volatile String badReason = "";
    private volatile List<ImageDigest> manifest = List.of();
    private volatile java.time.Duration lazyTimeout; // null unless its pages stay on the source (ferry dump --lazy)
    private final SnapshotMemory memory;

    /** @param memory the snapshot's reservation, which it owns from now on ({@link #release} closes it) */
    StoredSnapshot(SnapshotName name, String source, SnapshotMemory memory) {
        this.name = name;
        this.source = source;
        this.memory = memory;
    }

    /** The snapshot's share of the cache's memory budget, which its images take their chunks from. */
    SnapshotMemory memory() {
        return memory;
    }

    public SnapshotName name() {
        return name;
    }

    public String source() {
        return source;
    }

    public Instant created() {
        return created;
    }

    public State state() {
        return state;
    }

    void state(State state) {
        this.state = state;
    }

    public int imageCount() {
        return images.size();
    }

    public long bytes() {
        long total = 0;
        for (MemoryImage image : images.values()) {
            total += image.size0();
        }
        return total;
    }

    /** Adds a new, empty image; a second image of the same name is refused (DUPLICATE_IMAGE). */
    void add(MemoryImage image) {
        if (state != State.RECEIVING) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME,
                    "image " + image.name() + " for snapshot " + name + " in state " + state + " (expected: RECEIVING)");
        }
        if (images.putIfAbsent(image.name(), image) != null) {
            throw new ProtocolException(ErrorCode.DUPLICATE_IMAGE,
                    "image " + image.name() + " opened twice in snapshot " + name + " (expected: each image once)");
        }
    }

    /**
     * Checks the manifest against what arrived: the same set of names, each complete, with the same size
     * and CRC32C. Throws MANIFEST_MISMATCH or INTEGRITY, naming the first difference.
     */
    void verify(List<ImageDigest> manifest) {
        Set<ImageName> listed = new HashSet<>();
        for (ImageDigest d : manifest) {
            if (!listed.add(d.name())) {
                throw new ProtocolException(ErrorCode.MANIFEST_MISMATCH,
                        "manifest of " + name + " lists " + d.name() + " twice (expected: each image once)");
            }
            MemoryImage image = images.get(d.name());
            if (image == null) {
                throw new ProtocolException(ErrorCode.MANIFEST_MISMATCH,
                        "manifest of " + name + " lists " + d.name() + ", which never arrived (expected: only the "
                        + images.size() + " image(s) sent with IMAGE_OPEN)");
            }
            if (!image.isComplete()) {
                throw new ProtocolException(ErrorCode.MANIFEST_MISMATCH,
                        "manifest of " + name + " lists " + d.name() + ", which is not complete (expected: its IMAGE_END before the commit)");
            }
            if (image.size() != d.size() || image.crc32c() != d.crc32c()) {
                throw new ProtocolException(ErrorCode.INTEGRITY, String.format(
                        "image %s of %s: size %d crc32c %08x received (expected: size %d crc32c %08x from the manifest)",
                        d.name(), name, image.size(), image.crc32c(), d.size(), d.crc32c()));
            }
        }
        if (listed.size() != images.size()) {
            List<ImageName> extra = new ArrayList<>(images.keySet());
            extra.removeAll(listed);
            throw new ProtocolException(ErrorCode.MANIFEST_MISMATCH,
                    "snapshot " + name + " holds " + extra + ", which the manifest does not list (expected: every image sent)");
        }
        this.manifest = List.copyOf(manifest);
    }

    /** The manifest verified at commit (in the sender's order); empty before the commit. */
    public List<ImageDigest> manifest() {
        return manifest;
    }

    /** What {@link #verifyHeld()} found: the images and bytes checked, and the first problem or null. */
    public record HeldCheck(int images, long bytes, String problem) {
        public boolean ok() {
            return problem == null;
        }
    }

    /**
     * Re-checks the memory the cache holds against the manifest verified at commit: for every image, in
     * manifest order, the size and a CRC32C recomputed over the held bytes. Stops at the first mismatch.
     * Only reads; safe while the snapshot is being restored.
     */
    public HeldCheck verifyHeld() {
        List<ImageDigest> m = manifest;
        if (state == State.RECEIVING) {
            return new HeldCheck(0, 0, "snapshot " + name + " is still being received (expected: committed)");
        }
        if (state == State.BAD) {
            return new HeldCheck(0, 0, "snapshot " + name + " failed verification when it arrived: " + badReason);
        }
        int checked = 0;
        long bytes = 0;
        for (ImageDigest d : m) {
            MemoryImage image = images.get(d.name());
            if (image == null) {
                return new HeldCheck(checked, bytes, "image " + d.name() + " of " + name
                        + " is listed in the manifest but no longer held");
            }
            long held;
            int crc;
            try {
                held = image.heldBytes();
                crc = image.recomputeCrc32c();
            } catch (IllegalStateException e) {
                return new HeldCheck(checked, bytes, "snapshot " + name + " was dropped during the check");
            }
            if (held != d.size() || crc != d.crc32c()) {
                return new HeldCheck(checked, bytes, String.format(
                        "image %s of %s: size %d crc32c %08x held (expected: size %d crc32c %08x from the manifest verified at commit)",
                        d.name(), name, held, crc, d.size(), d.crc32c()));
            }
            checked++;
            bytes += held;
        }
        if (m.size() != images.size()) {
            return new HeldCheck(checked, bytes, "snapshot " + name + " holds " + images.size()
                    + " images, the manifest lists " + m.size());
        }
        return new HeldCheck(checked, bytes, null);
    }

    /** Test hook: flips the byte at {@code offset} of image {@code image}, as memory corruption would. */
    void corruptForTest(ImageName image, long offset) {
        MemoryImage held = images.get(image);
        if (held == null) {
            throw new IllegalArgumentException("no image " + image + " in " + name);
        }
        held.corruptForTest(offset);
    }

    /**
     * Marks a snapshot of {@code ferry dump --lazy}: its lazy pages stay on the source, so only a {@code ferry restore
     * --lazy} through the connection that brought it can restore it, within {@code timeout} of its commit.
     */
    void lazy(java.time.Duration timeout) {
        this.lazyTimeout = timeout;
    }

    /** Whether this is a snapshot of {@code ferry dump --lazy}, whose pages are still on the source. */
    public boolean isLazy() {
        return lazyTimeout != null;
    }

    /** How long the source waits for a restore of this lazy snapshot, and then for its last page; null if not lazy. */
    java.time.Duration lazyTimeout() {
        return lazyTimeout;
    }

    /** Why the snapshot failed verification; empty unless it is {@link State#BAD}. */
    public String badReason() {
        return badReason;
    }

    /** Marks the snapshot BAD and frees its images: it will never be served. */
    void markBad(String reason) {
        badReason = reason;
        state = State.BAD;
        release();
    }

    @Override
    public Optional<StoredImage> find(ImageName imageName) {
        if (state == State.RECEIVING || state == State.BAD) {
            return Optional.empty();
        }
        return Optional.ofNullable(images.get(imageName));
    }

    /** The images received so far, in no order. */
    java.util.Collection<MemoryImage> images() {
        return images.values();
    }

    /** Name → size of every image, for listings. */
    public Map<String, Long> imageSizes() {
        Map<String, Long> sizes = new HashMap<>();
        images.forEach((k, v) -> sizes.put(k.value(), v.size()));
        return sizes;
    }

    void release() {
        for (MemoryImage image : images.values()) {
            image.release();
        }
        memory.close();
    }
}
