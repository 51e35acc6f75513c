package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KerndatCache}'s decisions with a scripted generator: a stand-in for /run on disk (under target/, never a
 * tmpfs) and one on tmpfs (/dev/shm). The real generation (unshare, tmpfs, criu check) runs in the it-tests.
 */
class KerndatCacheTest {

    private static final String BOOT = "6b1f3c1e-0000-4000-8000-000000000001";
    private Path run;
    private Path bootId;
    private final AtomicInteger generated = new AtomicInteger();

    @BeforeEach
    void setUp() throws IOException {
        Path target = Path.of("target").toAbsolutePath();
        Files.createDirectories(target);
        run = Files.createTempDirectory(target, "run-");
        assertFalse(KerndatCache.isTmpfs(run), run + " is on tmpfs; these cases need a plain directory");
        bootId = run.resolveSibling(run.getFileName() + ".boot_id");
        Files.writeString(bootId, BOOT + "\n");
    }

    @AfterEach
    void tearDown() throws IOException {
        delete(run);
        Files.deleteIfExists(bootId);
    }

    private KerndatCache cache(boolean generatorSucceeds) {
        return new KerndatCache(run, bootId, target -> {
            generated.incrementAndGet();
            if (generatorSucceeds) {
                Files.writeString(target, "kdat-" + generated.get());
            }
            return generatorSucceeds;
        });
    }

    private String read(String name) throws IOException {
        return Files.readString(run.resolve(name), StandardCharsets.US_ASCII).strip();
    }

    @Test
    void primesAPlainRunDirOncePerBoot() throws IOException {
        assertEquals(KerndatCache.Outcome.PRIMED, cache(true).prime());
        assertEquals("kdat-1", read(KerndatCache.CACHE_NAME));
        assertEquals(BOOT, read(KerndatCache.MARK_NAME));
        try (Stream<Path> files = Files.list(run)) {
            assertEquals(2, files.count(), "no temporary file left behind");
        }

        assertEquals(KerndatCache.Outcome.PRIMED_BEFORE, cache(true).prime());
        assertEquals(1, generated.get(), "the second daemon of the boot reuses the cache");
        assertEquals("kdat-1", read(KerndatCache.CACHE_NAME));
    }

    @Test
    void replacesItsOwnCacheFromAnEarlierBoot() throws IOException {
        Files.writeString(run.resolve(KerndatCache.CACHE_NAME), "old kernel's probes");
        Files.writeString(run.resolve(KerndatCache.MARK_NAME), "an-earlier-boot\n");

        assertEquals(KerndatCache.Outcome.PRIMED, cache(true).prime());
        assertEquals("kdat-1", read(KerndatCache.CACHE_NAME));
        assertEquals(BOOT, read(KerndatCache.MARK_NAME));
    }

    @Test
    void leavesACacheItDidNotMakeAlone() throws IOException {
        Files.writeString(run.resolve(KerndatCache.CACHE_NAME), "someone else's");

        assertEquals(KerndatCache.Outcome.NOT_OURS, cache(true).prime());
        assertEquals(0, generated.get());
        assertEquals("someone else's", read(KerndatCache.CACHE_NAME));
        assertFalse(Files.exists(run.resolve(KerndatCache.MARK_NAME)));
    }

    @Test
    void aFailedGenerationInstallsNothing() throws IOException {
        assertEquals(KerndatCache.Outcome.FAILED, cache(false).prime());
        try (Stream<Path> files = Files.list(run)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void leavesATmpfsRunToCriu() throws IOException {
        Path shm = Path.of("/dev/shm");
        assertTrue(Files.isDirectory(shm) && KerndatCache.isTmpfs(shm), "/dev/shm must be a tmpfs for this case");
        Path tmpfsRun = Files.createTempDirectory(shm, "ferry-kdat-test-");
        try {
            KerndatCache c = new KerndatCache(tmpfsRun, bootId, target -> {
                generated.incrementAndGet();
                return true;
            });
            assertEquals(KerndatCache.Outcome.CRIU_KEEPS_IT, c.prime());
            assertEquals(0, generated.get());
        } finally {
            delete(tmpfsRun);
        }
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
