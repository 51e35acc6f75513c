package dev.ferry.criu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CriuLogOffsetTest {

    @Test
    void offsetOfTheFirstMatchingLine(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("dump.log");
        Files.writeString(log, "(00.000000) CRIU run id = x\n(00.040934) cg-prop: Parsing controller \"freezer\"\n"
                + "(00.041421) Seized task 27463, state 1\n(00.050000) Seized task 27464, state 1\n");
        assertEquals(Optional.of(Duration.ofNanos(41_421_000)), CriuLog.offsetOf(log, "Seized task"));
        assertEquals(Optional.empty(), CriuLog.offsetOf(log, "Unfreezing"));
        assertEquals(Optional.empty(), CriuLog.offsetOf(dir.resolve("missing.log"), "Seized task"));
    }
}
