package dev.ferry.protocol.image;

/**
 * The name of a snapshot (CRIU's {@code -D} as the user sees it with {@code --remote}): 1 to 128
 * characters from {@code [A-Za-z0-9._-]}, starting with a letter or digit. No {@code /}, no
 * {@code ..}, nothing that can escape a work dir.
 */
public record SnapshotName(String value) {

    public static final int MAX_LENGTH = 128;
    private static final String EXPECTED =
            "1 to " + MAX_LENGTH + " characters from [A-Za-z0-9._-], starting with a letter or digit";

    public SnapshotName {
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    public static SnapshotName of(String value) {
        return new SnapshotName(value);
    }

    /** Why {@code value} is not a valid snapshot name, or null if it is. */
    public static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "snapshot name: empty (expected: " + EXPECTED + ")";
        }
        if (value.length() > MAX_LENGTH) {
            return "snapshot name: " + value.length() + " characters (expected: " + EXPECTED + ")";
        }
        char first = value.charAt(0);
        if (!Character.isLetterOrDigit(first) || first > 0x7f) {
            return "snapshot name: '" + ImageName.printable(value) + "' starts with '"
                    + ImageName.printable(String.valueOf(first)) + "' (expected: " + EXPECTED + ")";
        }
        if (value.contains("..")) {
            return "snapshot name: '" + ImageName.printable(value) + "' contains '..' (expected: " + EXPECTED + ")";
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')) {
                return "snapshot name: '" + ImageName.printable(value) + "' has '" + ImageName.printable(String.valueOf(c))
                        + "' at " + i + " (expected: " + EXPECTED + ")";
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return value;
    }
}
