package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CriuLogTest {

    @TempDir
    Path dir;

    @Test
    void keepsFailingLinesAndDropsHarmlessOnes() throws Exception {
        Path log = dir.resolve("dump.log");
        Files.write(log, List.of(
                "(00.000010) Version: 4.2.1 (gitid 0)",
                "(00.000100) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted",
                "(00.000200) Warn  (criu/kerndat.c:1290): Can't keep kdat cache on non-tempfs",
                "(00.001000) Dumping process (pid: 4242)",
                "(00.002000) Error (criu/page-xfer.c:580): page-xfer: Unable to spice data: Broken pipe",
                "(00.003000) Error (criu/cr-dump.c:2100): Dumping FAILED."));
        assertEquals(List.of(
                "(00.002000) Error (criu/page-xfer.c:580): page-xfer: Unable to spice data: Broken pipe",
                "(00.003000) Error (criu/cr-dump.c:2100): Dumping FAILED."), CriuLog.excerpt(log, 10));
    }

    @Test
    void dropsNetworkUnlockNoiseOfARestore() throws Exception {
        Path log = dir.resolve("restore.log");
        Files.write(log, List.of(
                "iptables: Bad rule (does a matching rule exist in that chain?).",
                "(00.100) Error (criu/netfilter.c:105): Iptables configuration failed",
                "Error: Could not process rule: No such file or directory",
                "(00.200) Warn  (criu/cr-restore.c:1000): Something worth seeing",
                "(00.300) Restore finished successfully. Tasks resumed."));
        assertEquals(List.of("(00.200) Warn  (criu/cr-restore.c:1000): Something worth seeing"), CriuLog.excerpt(log, 10));
    }

    @Test
    void keepsIptablesFailureOfADump() throws Exception {
        Path log = dir.resolve("dump.log");
        Files.write(log, List.of("(00.100) Error (criu/netfilter.c:105): Iptables configuration failed"));
        assertEquals(1, CriuLog.excerpt(log, 10).size());
    }

    @Test
    void fallsBackToTheLastLinesWhenNothingMatches() throws Exception {
        Path log = dir.resolve("dump.log");
        Files.write(log, List.of("a", "b", "c", "d", "e", "f", "g"));
        assertEquals(List.of("c", "d", "e", "f", "g"), CriuLog.excerpt(log, 10));
    }

    @Test
    void prefersErrorsOverWarningsWhenTooMany() throws Exception {
        Path log = dir.resolve("dump.log");
        Files.write(log, List.of("Warn 1", "Warn 2", "Error (x): one", "Warn 3", "BUG at criu/mem.c:45"));
        List<String> excerpt = CriuLog.excerpt(log, 2);
        assertEquals(List.of("Error (x): one", "BUG at criu/mem.c:45"), excerpt);
    }

    @Test
    void missingLogGivesNothing() {
        assertTrue(CriuLog.excerpt(dir.resolve("absent.log"), 10).isEmpty());
    }

    @Test
    void exceptionMessageShowsExitLogAndExcerpt() throws Exception {
        Path log = dir.resolve("dump.log");
        Files.write(log, List.of("(00.3) Error (criu/cr-dump.c:2100): Dumping FAILED."));
        CriuException e = CriuException.fromLog("dump", 1, log, null, null);
        assertEquals("criu dump failed (exit 1); log: " + log + "\n  (00.3) Error (criu/cr-dump.c:2100): Dumping FAILED.",
                e.getMessage());
        assertEquals("dump", e.action());
        assertEquals(1, e.exitCode());
        assertEquals(log, e.logPath());
        assertEquals(1, e.logExcerpt().size());
    }
}
