package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationOptionTest {

    @Test
    void parsesMillisSecondsMinutesAndZero() {
        assertEquals(Duration.ofMillis(500), DurationOption.parse("--retry-for", "500ms"));
        assertEquals(Duration.ofSeconds(10), DurationOption.parse("--retry-for", "10s"));
        assertEquals(Duration.ofMinutes(1), DurationOption.parse("--retry-for", "1m"));
        assertEquals(Duration.ZERO, DurationOption.parse("--retry-for", "0"));
    }

    @Test
    void refusesNumbersWithoutUnitAndGarbage() {
        for (String bad : new String[] {"10", "-1s", "ten", "", "1h"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DurationOption.parse("--retry-for", bad));
            assertTrue(e.getMessage().startsWith("--retry-for: '"), e.getMessage());
        }
    }
}
