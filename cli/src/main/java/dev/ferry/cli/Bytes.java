package dev.ferry.cli;

/** Byte counts for people: 1.5 GiB, 230 MiB, 12 KiB. */
final class Bytes {

    private Bytes() {
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }

    /** Parses 512M, 4G, 1024, 2GiB into bytes. */
    static long parse(String s) {
        String t = s.trim().toUpperCase().replace("IB", "").replace("B", "");
        long mult = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> mult = 1;
            }
        }
        String digits = mult == 1 ? t : t.substring(0, t.length() - 1);
        try {
            return Long.parseLong(digits.trim()) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size: '" + s + "' (expected: a number of bytes, optionally with K, M, G or T, e.g. 4G)");
        }
    }
}
