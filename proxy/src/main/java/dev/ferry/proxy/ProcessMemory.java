package dev.ferry.proxy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;

/**
 * The resident memory of a process tree, from /proc: what a dump of it will roughly weigh. Sent to the
 * cache before anything is frozen, so that a cache that cannot hold it refuses up front.
 */
final class ProcessMemory {

    private ProcessMemory() {
    }

    static boolean exists(long pid) {
        return Files.isDirectory(Path.of("/proc", Long.toString(pid)));
    }

    /** Sum of {@code Rss} over the tree rooted at {@code pid}; 0 when unknown. */
    static long treeRss(long pid) {
        long total = 0;
        Deque<Long> todo = new ArrayDeque<>();
        Set<Long> seen = new HashSet<>();
        todo.add(pid);
        while (!todo.isEmpty() && seen.size() < 10_000) {
            long p = todo.poll();
            if (!seen.add(p)) {
                continue;
            }
            total += rss(p);
            try (var tasks = Files.list(Path.of("/proc", Long.toString(p), "task"))) {
                for (Path task : (Iterable<Path>) tasks::iterator) {
                    String children = Files.readString(task.resolve("children")).trim();
                    if (!children.isEmpty()) {
                        for (String c : children.split("\\s+")) {
                            todo.add(Long.parseLong(c));
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the process went away or /proc is not readable: count what we have
            }
        }
        return total;
    }

    private static long rss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
                if (line.startsWith("Rss:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return 0;
    }
}
