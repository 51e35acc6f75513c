package dev.ferry.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SnapshotNameTest {

    @ParameterizedTest
    @ValueSource(strings = {"web1", "a", "9", "redis-2026.11.02_01", "A.b-c_d"})
    void acceptsNamesOfSafeCharacters(String name) {
        assertNull(SnapshotName.problem(name));
        assertEquals(name, SnapshotName.of(name).value());
        assertEquals(name, SnapshotName.of(name).toString());
    }

    @Test
    void acceptsNameOfMaxLength() {
        assertNull(SnapshotName.problem("a".repeat(SnapshotName.MAX_LENGTH)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "../x", "a/b", "/abs", ".", "..", ".hidden", "-opt", "_x", "a..b", "web 1",
            "a\u0000b", "a\nb", "caf\u00e9", "\u00e9t\u00e9", "a\\b", "x*"})
    void refusesNamesThatCouldEscapeOrConfuse(String name) {
        String problem = SnapshotName.problem(name);
        assertNotNull(problem, name);
        assertTrue(problem.startsWith("snapshot name: "), problem);
        assertTrue(problem.contains("(expected: 1 to 128 characters from [A-Za-z0-9._-], starting with a letter or digit)"), problem);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SnapshotName.of(name));
        assertEquals(problem, e.getMessage());
    }

    @Test
    void refusesNullAndOverlongNames() {
        assertNotNull(SnapshotName.problem(null));
        assertTrue(SnapshotName.problem("a".repeat(129)).startsWith("snapshot name: 129 characters"));
        assertTrue(SnapshotName.problem("a".repeat(10 * 1024)).startsWith("snapshot name: 10240 characters"));
    }

    @Test
    void printsControlCharactersEscaped() {
        assertEquals("snapshot name: 'a\\u0000b' has '\\u0000' at 1 (expected: 1 to 128 characters from "
                + "[A-Za-z0-9._-], starting with a letter or digit)", SnapshotName.problem("a\u0000b"));
    }
}
