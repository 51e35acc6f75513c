package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecentCheckTest {

    /** A fake criu whose `check` appends a line to a count file and exits with the code in a file. */
    private static Criu fake(Path dir) throws Exception {
        Path exe = dir.resolve("criu");
        Files.writeString(exe, "#!/bin/sh\necho run >> '" + dir.resolve("runs") + "'\nexit $(cat '" + dir.resolve("rc") + "')\n");
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwx------"));
        return new Criu(exe, "4.2.1");
    }

    private static long runs(Path dir) throws Exception {
        return Files.exists(dir.resolve("runs")) ? Files.readAllLines(dir.resolve("runs")).size() : 0;
    }

    @Test
    void aPassingCheckStands_aFailingOneIsRunAgain(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("rc"), "1");
        RecentCheck check = new RecentCheck(fake(dir), Duration.ofMinutes(5));
        assertFalse(check.check().ok());
        assertFalse(check.check().ok());
        assertEquals(2, runs(dir), "a failing check must not be kept");

        Files.writeString(dir.resolve("rc"), "0");
        assertTrue(check.check().ok());
        assertTrue(check.check().ok());
        assertTrue(check.check().ok());
        assertEquals(3, runs(dir), "a passing check must stand for the next preflights");
    }

    @Test
    void aPassingCheckExpires(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("rc"), "0");
        RecentCheck check = new RecentCheck(fake(dir), Duration.ZERO);
        assertTrue(check.check().ok());
        assertTrue(check.check().ok());
        assertEquals(2, runs(dir));
    }
}
