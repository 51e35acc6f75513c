package dev.ferry.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImageNameTest {

    @ParameterizedTest
    @ValueSource(strings = {"pages-1.img", "pagemap-19886.img", "inventory.img", "core-1.img", "seccomp.img",
            "tty-info.img", "ip6tables-9.img", ".img", "_x", "-x"})
    void acceptsCriuImageFileNames(String name) {
        assertNull(ImageName.problem(name));
        assertEquals(name, ImageName.of(name).value());
    }

    @Test
    void acceptsNameOfMaxLength() {
        assertNull(ImageName.problem("a".repeat(ImageName.MAX_LENGTH)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".", "..", "../inventory.img", "a/b.img", "/etc/passwd", "a b.img", "a\u0000.img",
            "p\u00e4ges.img"})
    void refusesNamesWithPathsOrOddCharacters(String name) {
        String problem = ImageName.problem(name);
        assertNotNull(problem, name);
        assertTrue(problem.startsWith("image name: ") && problem.contains("(expected: "), problem);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageName.of(name));
        assertEquals(problem, e.getMessage());
    }

    @Test
    void refusesNullAndOverlongNames() {
        assertNotNull(ImageName.problem(null));
        assertEquals("image name: 256 characters (expected: <= 255)", ImageName.problem("a".repeat(256)));
    }

    @Test
    void digestRefusesNegativeSize() {
        assertThrows(IllegalArgumentException.class, () -> new ImageDigest(ImageName.of("a.img"), -1, 0));
        assertThrows(NullPointerException.class, () -> new ImageDigest(null, 0, 0));
    }
}
