package dev.ferry.protocol.image;

/**
 * The file name of one CRIU image, e.g. {@code pages-1.img} or {@code pagemap-19886.img}: no directory,
 * 1 to 255 characters from {@code [A-Za-z0-9._-]}, not {@code .} or {@code ..}.
 */
public record ImageName(String value) {

    public static final int MAX_LENGTH = 255;

    public ImageName {
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    public static ImageName of(String value) {
        return new ImageName(value);
    }

    /** Why {@code value} is not a valid image name, or null if it is. */
    public static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "image name: empty (expected: 1 to " + MAX_LENGTH + " characters from [A-Za-z0-9._-])";
        }
        if (value.length() > MAX_LENGTH) {
            return "image name: " + value.length() + " characters (expected: <= " + MAX_LENGTH + ")";
        }
        if (value.equals(".") || value.equals("..")) {
            return "image name: '" + value + "' (expected: a file name, not a directory)";
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')) {
                return "image name: '" + printable(value) + "' has '" + printable(String.valueOf(c))
                        + "' at " + i + " (expected: only [A-Za-z0-9._-])";
            }
        }
        return null;
    }

    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 64; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\u%04x", (int) c));
        }
        if (s.length() > 64) {
            b.append("...");
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return value;
    }
}
