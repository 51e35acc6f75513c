package dev.ferry.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses a duration option: a whole number with {@code ms}, {@code s} or {@code m}; a bare {@code 0} is zero. */
final class DurationOption {

    private static final Pattern FORM = Pattern.compile("(\\d{1,9})(ms|s|m)?");

    private DurationOption() {
    }

    static Duration parse(String option, String value) {
        Matcher m = FORM.matcher(value == null ? "" : value.strip());
        if (!m.matches() || (m.group(2) == null && Long.parseLong(m.group(1)) != 0)) {
            throw new IllegalArgumentException(option + ": '" + value + "' (expected: a duration such as 10s, 500ms,"
                    + " 1m, or 0)");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofSeconds(n);
        };
    }
}
