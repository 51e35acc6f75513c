package dev.ferry.cli.lab;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** The last lines of a log file, for error messages; reads at most the file's last 256 KiB. */
public final class LogTail {

    private static final int MAX_BYTES = 256 * 1024;

    private LogTail() {
    }

    /** The last {@code lines} lines of {@code file}, or a note saying why there are none. */
    public static String of(Path file, int lines) {
        if (file == null || !Files.exists(file)) {
            return "  (no file " + file + ")";
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            int size = (int) Math.min(length, MAX_BYTES);
            byte[] bytes = new byte[size];
            raf.seek(length - size);
            raf.readFully(bytes);
            List<String> all = Arrays.asList(new String(bytes, StandardCharsets.UTF_8).split("\n"));
            if (all.size() == 1 && all.get(0).isEmpty()) {
                return "  (" + file + " is empty)";
            }
            return all.subList(Math.max(0, all.size() - lines), all.size()).stream()
                    .map(l -> "  | " + l)
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "  (cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    /** Lines of {@code file} (anywhere in its last 256 KiB) that contain {@code needle}, at most {@code max}. */
    public static String grep(Path file, String needle, int max) {
        String tail = of(file, Integer.MAX_VALUE);
        return Arrays.stream(tail.split("\n")).filter(l -> l.contains(needle)).limit(max)
                .collect(Collectors.joining("\n"));
    }
}
