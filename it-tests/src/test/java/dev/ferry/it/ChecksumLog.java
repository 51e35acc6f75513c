package dev.ferry.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads what {@code memhold.py} writes: the memory's first sha256 ({@code SHA_FILE}) and the
 * {@code "<n> <sha>"} lines it appends while it runs.
 */
final class ChecksumLog {

    record Entry(long n, String sha) {
    }

    private final Path shaFile;
    private final Path log;

    ChecksumLog(Path shaFile, Path log) {
        this.shaFile = shaFile;
        this.log = log;
    }

    /** The sha256 computed right after the memory was filled, once it is written. */
    Optional<String> firstSha() {
        try {
            String text = Files.readString(shaFile).trim();
            return text.length() == 64 ? Optional.of(text) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Complete lines so far (a line being written is left out). */
    List<Entry> entries() {
        List<Entry> result = new ArrayList<>();
        String text;
        try {
            text = Files.readString(log);
        } catch (IOException e) {
            return result;
        }
        int end = text.lastIndexOf('\n');
        if (end < 0) {
            return result;
        }
        for (String line : text.substring(0, end).split("\n")) {
            String[] parts = line.trim().split(" ");
            if (parts.length == 2 && parts[1].length() == 64) {
                try {
                    result.add(new Entry(Long.parseLong(parts[0]), parts[1]));
                } catch (NumberFormatException e) {
                    // not ours
                }
            }
        }
        return result;
    }

    Optional<Entry> last() {
        List<Entry> all = entries();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** Waits for the first sha; returns it, or empty after {@code timeout}. */
    Optional<String> awaitFirstSha(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<String> sha = firstSha();
            if (sha.isPresent()) {
                return sha;
            }
            Thread.sleep(50);
        }
        return Optional.empty();
    }

    /** Waits until a line with a counter of at least {@code n} exists; returns it, or empty after {@code timeout}. */
    Optional<Entry> awaitEntry(long n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Entry> last = last();
            if (last.isPresent() && last.get().n() >= n) {
                return last;
            }
            Thread.sleep(50);
        }
        return Optional.empty();
    }

    /** Lines whose sha differs from {@code expected}. */
    List<Entry> mismatches(String expected) {
        return entries().stream().filter(e -> !e.sha().equals(expected)).toList();
    }

    Path log() {
        return log;
    }
}
