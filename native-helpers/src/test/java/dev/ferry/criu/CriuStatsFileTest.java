package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.control.CriuStats;
import dev.ferry.protocol.criu.CriuImageReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** stats-dump and stats-restore as CRIU 4.2.1 wrote them (test resources captured from real runs). */
class CriuStatsFileTest {

    @TempDir
    Path dir;

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = CriuStatsFileTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing test resource " + name);
            }
            return in.readAllBytes();
        }
    }

    @Test
    void readsCriusDumpStatistics() throws IOException {
        Files.write(dir.resolve(CriuStatsFile.DUMP), resource("stats-dump"));
        CriuStats stats = CriuStatsFile.read(dir).orElseThrow();
        assertTrue(stats.hasDump());
        assertFalse(stats.hasRestore());
        // values decoded by hand from the captured bytes: 08 cd 02 | 10 c3 9f 01 | 18 94 18 | 20 ed 03 | 28 a2 01 | 30 00 | 38 5c
        assertEquals(333, stats.getDump().getFreezingTimeUs());
        assertEquals(20419, stats.getDump().getFrozenTimeUs());
        assertEquals(3092, stats.getDump().getMemdumpTimeUs());
        assertEquals(493, stats.getDump().getMemwriteTimeUs());
        assertEquals(162, stats.getDump().getPagesScanned());
        assertEquals(92, stats.getDump().getPagesWritten());
        assertEquals(18, stats.getDump().getPagePipes());
    }

    @Test
    void readsCriusRestoreStatistics() throws IOException {
        Files.write(dir.resolve(CriuStatsFile.RESTORE), resource("stats-restore"));
        CriuStats stats = CriuStatsFile.read(dir).orElseThrow();
        assertTrue(stats.hasRestore());
        assertFalse(stats.hasDump());
        assertEquals(113, stats.getRestore().getForkingTimeUs());
        assertEquals(5682, stats.getRestore().getRestoreTimeUs());
        assertEquals(92, stats.getRestore().getPagesRestored());
    }

    @Test
    void nothingWhenCriuWroteNoStatistics() {
        assertEquals(Optional.empty(), CriuStatsFile.read(dir));
    }

    @Test
    void damagedFileIsLeftOutNotThrown() throws IOException {
        byte[] bytes = resource("stats-dump");
        Files.write(dir.resolve(CriuStatsFile.DUMP), Arrays.copyOf(bytes, bytes.length - 5));
        assertEquals(Optional.empty(), CriuStatsFile.read(dir));
        CriuImageReader.CriuImageException e = assertThrows(CriuImageReader.CriuImageException.class,
                () -> CriuStatsFile.parse("stats-dump", Arrays.copyOf(bytes, bytes.length - 5)));
        assertTrue(e.getMessage().contains("offset 8"), e.getMessage());
    }

    @Test
    void refusesAnImageOfAnotherKind() throws IOException {
        byte[] bytes = resource("stats-dump");
        bytes[4] ^= 0x01; // type magic no longer STATS_MAGIC
        CriuImageReader.CriuImageException e = assertThrows(CriuImageReader.CriuImageException.class,
                () -> CriuStatsFile.parse("stats-dump", bytes));
        assertTrue(e.getMessage().contains("expected: 0x57093306"), e.getMessage());
    }
}
