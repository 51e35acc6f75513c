package dev.ferry.cache;

import dev.ferry.protocol.control.ProcessInfo;
import dev.ferry.protocol.control.SnapshotDetail;
import dev.ferry.protocol.criu.CriuImageReader;
import dev.ferry.protocol.criu.CriuImageReader.CriuImageException;
import dev.ferry.protocol.criu.CriuImages;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageSource;
import dev.ferry.protocol.image.StoredImage;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads what a snapshot holds from CRIU's images in the cache's memory, for {@code ferry images show}: the process
 * tree ({@code pstree.img}), each task's command name and state ({@code core-<pid>.img}, its {@code tc}), and the
 * memory the dump holds per task ({@code pagemap-<pid>.img}: PE_PRESENT ranges × 4 KiB). Only these small images
 * are copied out; {@code pages-*.img} are only counted. Stateless; only reads the images, so it may run while the
 * snapshot is being restored.
 */
final class SnapshotInspector {

    static final String PSTREE = "pstree.img";
    /** PE_PRESENT of CRIU's pagemap flags: the range's pages are in the pages image. */
    static final int PE_PRESENT = 1 << 2;
    static final long PAGE_SIZE = 4096;
    /** The largest image copied out for parsing; pagemaps of very large processes reach a few MiB. */
    static final long MAX_PARSED_IMAGE = 64L << 20;

    private SnapshotInspector() {
    }

    /**
     * The process tree of {@code source}, whose images have the sizes {@code imageSizes} (name → bytes).
     *
     * @throws CriuImageException if an image the tree needs is missing or is not what CRIU writes
     */
    static SnapshotDetail.Builder inspect(ImageSource source, Map<String, Long> imageSizes) throws CriuImageException {
        SnapshotDetail.Builder detail = SnapshotDetail.newBuilder();
        List<CriuImages.pstree_entry> tree = CriuImageReader.entries(PSTREE, read(source, PSTREE, true),
                CriuImageReader.PSTREE_MAGIC, CriuImages.pstree_entry.parser());
        for (CriuImages.pstree_entry task : tree) {
            ProcessInfo.Builder p = ProcessInfo.newBuilder()
                    .setPid(task.getPid()).setPpid(task.getPpid()).setPgid(task.getPgid()).setSid(task.getSid())
                    .addAllThreads(task.getThreadsList());
            String core = "core-" + Integer.toUnsignedString(task.getPid()) + ".img";
            ByteBuffer coreBytes = read(source, core, false);
            if (coreBytes != null) {
                CriuImages.core_entry entry = CriuImageReader.single(core, coreBytes, CriuImageReader.CORE_MAGIC,
                        CriuImages.core_entry.parser());
                if (entry.hasTc()) {
                    p.setComm(entry.getTc().getComm()).setState(state(entry.getTc().getTaskState()));
                }
            }
            String pagemap = "pagemap-" + Integer.toUnsignedString(task.getPid()) + ".img";
            ByteBuffer pagemapBytes = read(source, pagemap, false);
            if (pagemapBytes != null) {
                p.setMemoryBytes(presentBytes(pagemap, pagemapBytes));
            }
            detail.addProcesses(p);
        }
        imageSizes.forEach((name, size) -> {
            if (name.startsWith("pages-")) {
                detail.setPagesBytes(detail.getPagesBytes() + size).setPagesImages(detail.getPagesImages() + 1);
            }
        });
        return detail;
    }

    /** Bytes of the PE_PRESENT ranges of a pagemap image (its head entry, then one entry per range). */
    static long presentBytes(String name, ByteBuffer pagemap) throws CriuImageException {
        // the head (pages_id) and the ranges are different messages; the head's one field reads as vaddr here
        List<CriuImages.pagemap_entry> entries = CriuImageReader.entries(name, pagemap, CriuImageReader.PAGEMAP_MAGIC,
                CriuImages.pagemap_entry.parser());
        long pages = 0;
        for (CriuImages.pagemap_entry e : entries.subList(Math.min(1, entries.size()), entries.size())) {
            boolean present = !e.hasFlags() ? !e.getInParent() : (e.getFlags() & PE_PRESENT) != 0;
            if (present) {
                pages += e.hasNrPages() ? e.getNrPages() : Integer.toUnsignedLong(e.getCompatNrPages());
            }
        }
        return pages * PAGE_SIZE;
    }

    /** CRIU's task states (compel's TASK_*), by name. */
    static String state(int taskState) {
        return switch (taskState) {
            case 1 -> "alive";
            case 2 -> "dead";
            case 3 -> "stopped";
            case 4 -> "helper";
            case 5 -> "thread";
            case 6 -> "zombie";
            default -> "state " + taskState;
        };
    }

    private static ByteBuffer read(ImageSource source, String name, boolean required) throws CriuImageException {
        Optional<StoredImage> image = source.find(ImageName.of(name));
        if (image.isEmpty()) {
            if (required) {
                throw new CriuImageException(name + ": not in the snapshot (expected: every CRIU dump has one)");
            }
            return null;
        }
        if (image.get().size() > MAX_PARSED_IMAGE) {
            throw new CriuImageException(name + ": " + image.get().size() + " bytes (expected: <= " + MAX_PARSED_IMAGE
                    + " to be parsed)");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) image.get().size());
        try {
            image.get().writeTo(Channels.newChannel(out));
        } catch (IOException e) {
            throw new CriuImageException(name + ": cannot be read: " + e.getMessage(), e);
        }
        return ByteBuffer.wrap(out.toByteArray());
    }
}
