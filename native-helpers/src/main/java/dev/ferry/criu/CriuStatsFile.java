package dev.ferry.criu;

import dev.ferry.protocol.control.CriuDumpStats;
import dev.ferry.protocol.control.CriuRestoreStats;
import dev.ferry.protocol.control.CriuStats;
import dev.ferry.protocol.criu.CriuImageReader;
import dev.ferry.protocol.criu.CriuImages;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * CRIU's own statistics of a dump or restore: the {@code stats-dump} and {@code stats-restore} files CRIU writes
 * into its work dir. They are marked O_FORCE_LOCAL in CRIU, so even with {@code --stream} they go to disk and never
 * through the streamer (checked with CRIU 4.2.1). Format: IMG_SERVICE_MAGIC, STATS_MAGIC, one {@code stats_entry}.
 */
public final class CriuStatsFile {

    public static final String DUMP = "stats-dump";
    public static final String RESTORE = "stats-restore";
    /** A stats file is a few dozen bytes; anything much larger is not one. */
    private static final long MAX_SIZE = 64 * 1024;
    private static final System.Logger LOG = System.getLogger(CriuStatsFile.class.getName());

    private CriuStatsFile() {
    }

    /**
     * The statistics found in {@code workDir} ({@code stats-dump}, {@code stats-restore} or both); empty if neither is
     * there (CRIU failed before writing them) or readable. A damaged file is logged and left out, never thrown.
     */
    public static Optional<CriuStats> read(Path workDir) {
        if (workDir == null) {
            return Optional.empty();
        }
        CriuStats.Builder stats = CriuStats.newBuilder();
        parse(workDir.resolve(DUMP)).filter(CriuImages.stats_entry::hasDump)
                .ifPresent(e -> stats.setDump(dump(e.getDump())));
        parse(workDir.resolve(RESTORE)).filter(CriuImages.stats_entry::hasRestore)
                .ifPresent(e -> stats.setRestore(restore(e.getRestore())));
        return stats.hasDump() || stats.hasRestore() ? Optional.of(stats.build()) : Optional.empty();
    }

    /** Parses the bytes of a stats file. */
    public static CriuImages.stats_entry parse(String name, byte[] bytes) throws CriuImageReader.CriuImageException {
        return CriuImageReader.single(name, ByteBuffer.wrap(bytes), CriuImageReader.STATS_MAGIC,
                CriuImages.stats_entry.parser());
    }

    private static Optional<CriuImages.stats_entry> parse(Path file) {
        try {
            if (Files.size(file) > MAX_SIZE) {
                LOG.log(Level.WARNING, file + ": " + Files.size(file) + " bytes (expected: a CRIU stats file of < "
                        + MAX_SIZE + "); ignored");
                return Optional.empty();
            }
            return Optional.of(parse(file.toString(), Files.readAllBytes(file)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "CRIU statistics not read: " + e.getMessage());
            return Optional.empty();
        }
    }

    static CriuDumpStats dump(CriuImages.dump_stats_entry d) {
        return CriuDumpStats.newBuilder()
                .setFreezingTimeUs(Integer.toUnsignedLong(d.getFreezingTime()))
                .setFrozenTimeUs(Integer.toUnsignedLong(d.getFrozenTime()))
                .setMemdumpTimeUs(Integer.toUnsignedLong(d.getMemdumpTime()))
                .setMemwriteTimeUs(Integer.toUnsignedLong(d.getMemwriteTime()))
                .setPagesScanned(d.getPagesScanned())
                .setPagesSkippedParent(d.getPagesSkippedParent())
                .setPagesWritten(d.getPagesWritten())
                .setIrmapResolveUs(Integer.toUnsignedLong(d.getIrmapResolve()))
                .setPagesLazy(d.getPagesLazy())
                .setPagePipes(d.getPagePipes())
                .setPagePipeBufs(d.getPagePipeBufs())
                .setShpagesScanned(d.getShpagesScanned())
                .setShpagesSkippedParent(d.getShpagesSkippedParent())
                .setShpagesWritten(d.getShpagesWritten())
                .build();
    }

    static CriuRestoreStats restore(CriuImages.restore_stats_entry r) {
        return CriuRestoreStats.newBuilder()
                .setPagesCompared(r.getPagesCompared())
                .setPagesSkippedCow(r.getPagesSkippedCow())
                .setForkingTimeUs(Integer.toUnsignedLong(r.getForkingTime()))
                .setRestoreTimeUs(Integer.toUnsignedLong(r.getRestoreTime()))
                .setPagesRestored(r.getPagesRestored())
                .build();
    }
}
