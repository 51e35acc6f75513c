package dev.ferry.protocol.criu;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the entries of a CRIU protobuf image (criu/protobuf.c, criu/include/magic.h):
 *
 * <pre>
 * +--------------------+------------------+------------------------------+------------------------------+---
 * | u32 first magic    | u32 type magic   | u32 size | size bytes: entry  | u32 size | size bytes: entry  | ...
 * +--------------------+------------------+------------------------------+------------------------------+---
 * first magic: IMG_COMMON_MAGIC 0x54564319, or IMG_SERVICE_MAGIC 0x55105940 (stats-*, irmap-cache);
 * inventory.img has only its type magic, INVENTORY_MAGIC 0x58313116.
 * </pre>
 *
 * All u32 are in the host's byte order (little-endian on x86-64 and arm64), like the streamer's framing.
 * End of data at an entry boundary ends the list. Raw images (pages-*.img) have no magic and are not read
 * here. Stateless, thread-safe.
 */
public final class CriuImageReader {

    public static final int IMG_COMMON_MAGIC = 0x54564319;
    public static final int IMG_SERVICE_MAGIC = 0x55105940;
    public static final int INVENTORY_MAGIC = 0x58313116;
    public static final int STATS_MAGIC = 0x57093306;
    public static final int PSTREE_MAGIC = 0x50273030;
    public static final int CORE_MAGIC = 0x55053847;
    public static final int PAGEMAP_MAGIC = 0x56084025;

    /** The largest entry accepted; CRIU's biggest entries (core, mm) are a few KiB. */
    public static final int MAX_ENTRY = 16 << 20;

    private CriuImageReader() {
    }

    /**
     * Checks the image's magics and parses every entry with {@code parser}.
     *
     * @param name       the image's name, for messages
     * @param typeMagic  the image type's magic, e.g. {@link #PSTREE_MAGIC}
     * @throws CriuImageException naming the image, the offset and what was expected
     */
    public static <T> List<T> entries(String name, ByteBuffer image, int typeMagic, Parser<T> parser)
            throws CriuImageException {
        ByteBuffer b = image.duplicate().order(ByteOrder.nativeOrder());
        int first = u32(name, b, "magic");
        if (typeMagic != INVENTORY_MAGIC) {
            if (first != IMG_COMMON_MAGIC && first != IMG_SERVICE_MAGIC) {
                throw new CriuImageException(String.format("%s: first magic 0x%08x (expected: 0x%08x or 0x%08x)",
                        name, first, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC));
            }
            first = u32(name, b, "type magic");
        }
        if (first != typeMagic) {
            throw new CriuImageException(String.format("%s: magic 0x%08x (expected: 0x%08x)", name, first, typeMagic));
        }
        List<T> entries = new ArrayList<>();
        while (b.hasRemaining()) {
            int at = b.position();
            long size = Integer.toUnsignedLong(u32(name, b, "entry size"));
            if (size > MAX_ENTRY || size > b.remaining()) {
                throw new CriuImageException(name + ": entry at offset " + at + ": size " + size + " (expected: <= "
                        + Math.min(MAX_ENTRY, b.remaining()) + ", the bytes left)");
            }
            ByteBuffer entry = b.slice();
            entry.limit((int) size);
            b.position(b.position() + (int) size);
            try {
                entries.add(parser.parseFrom(entry));
            } catch (InvalidProtocolBufferException e) {
                throw new CriuImageException(name + ": entry at offset " + at + " does not parse: " + e.getMessage(), e);
            }
        }
        return entries;
    }

    /** The image's one entry (core, stats, inventory, ...). */
    public static <T> T single(String name, ByteBuffer image, int typeMagic, Parser<T> parser) throws CriuImageException {
        List<T> entries = entries(name, image, typeMagic, parser);
        if (entries.size() != 1) {
            throw new CriuImageException(name + ": " + entries.size() + " entries (expected: 1)");
        }
        return entries.get(0);
    }

    private static int u32(String name, ByteBuffer b, String what) throws CriuImageException {
        if (b.remaining() < 4) {
            throw new CriuImageException(name + ": " + b.remaining() + " bytes at offset " + b.position()
                    + " (expected: a 4-byte " + what + ")");
        }
        return b.getInt();
    }

    /** An image that is not what CRIU writes. */
    public static final class CriuImageException extends IOException {
        public CriuImageException(String message) {
            super(message);
        }

        public CriuImageException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
