package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads what the client half of {@code tcppair.py} logs: {@code "ok N TOTAL UNIX_TIME"} per reply
 * and {@code "ERROR ..."} for any reset, EOF, timeout or mismatched reply.
 */
final class ReplyLog {

    record Reply(long n, long total, double time) {
    }

    private final Path log;

    ReplyLog(Path log) {
        this.log = log;
    }

    /**
     * Waits up to {@code millis} until reply {@code n} has arrived (or an error did); fails with what arrived, the
     * errors and {@code fx}'s diagnostics otherwise.
     */
    void await(LabFixture fx, long n, long millis, String when) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (lastN() < n && errors().isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(lastN() >= n, () -> "got " + lastN() + " replies (expected: >= " + n + ") " + when + "; errors: "
                + errors() + fx.diagnostics());
    }

    private List<String> completeLines() {
        try {
            String text = Files.readString(log);
            int end = text.lastIndexOf('\n');
            return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n"));
        } catch (IOException e) {
            return List.of();
        }
    }

    List<Reply> replies() {
        List<Reply> result = new ArrayList<>();
        for (String line : completeLines()) {
            String[] parts = line.split(" ");
            if (parts.length == 4 && parts[0].equals("ok")) {
                result.add(new Reply(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Double.parseDouble(parts[3])));
            }
        }
        return result;
    }

    List<String> errors() {
        return completeLines().stream().filter(l -> l.startsWith("ERROR")).toList();
    }

    long lastN() {
        List<Reply> all = replies();
        return all.isEmpty() ? 0 : all.get(all.size() - 1).n();
    }

    /** Every place where N does not go up by exactly one or TOTAL differs from N (gaps, duplicates). */
    List<String> discontinuities() {
        List<String> problems = new ArrayList<>();
        long expected = 1;
        for (Reply r : replies()) {
            if (r.n() != expected || r.total() != r.n()) {
                problems.add("expected request " + expected + ", got reply " + r);
            }
            expected = r.n() + 1;
        }
        return problems;
    }

    /** The longest time between consecutive replies, in ms. */
    long maxGapMillis() {
        double max = 0;
        Reply previous = null;
        for (Reply r : replies()) {
            if (previous != null) {
                max = Math.max(max, r.time() - previous.time());
            }
            previous = r;
        }
        return Math.round(max * 1000);
    }

    Path log() {
        return log;
    }
}
