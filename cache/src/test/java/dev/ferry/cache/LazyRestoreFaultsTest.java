package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LazyRestore#countFaults}: demand faults in a {@code criu lazy-pages} log, not its background reads. */
class LazyRestoreFaultsTest {

    @Test
    void countsDemandFaultsOnly(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("lazy-pages.log");
        Files.writeString(log, String.join("\n",
                "(00.016506) uffd: Received PID: 1, uffd: 9",
                "(00.017405) uffd: 1-9: #PF at 0x7f4b58e51000",
                "(00.017408) pr1-1 Read 7f4b58e51000 1 pages",
                "(00.018833) uffd: 1-9: uffd_copy: 0x7f4b58e51000/4096",
                "(00.025903) uffd: 1-9: #PF at 0x7ffd659cd000",
                "(00.028995) pr1-1 Read 2c7e0000 16 pages",
                "(00.030000) uffd: 12-10: #PF at 0x2c7e0000",
                "(00.031000) some line mentioning #PF without the marker",
                ""));
        assertEquals(3, LazyRestore.countFaults(log));
    }

    @Test
    void noLogMeansNoFaultsCounted(@TempDir Path dir) {
        assertEquals(0, LazyRestore.countFaults(dir.resolve("missing.log")));
    }
}
