package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The machine's cgroup v2 hierarchy: {@code /sys/fs/cgroup} on a unified host, {@code /sys/fs/cgroup/unified} (or
 * wherever {@code /proc/self/mounts} says) on a hybrid one. Creates and removes the groups a test asks for; a process's
 * group is its {@code 0::} line in {@code /proc/PID/cgroup}.
 */
final class CgroupV2 {

    private final Path root;

    private CgroupV2(Path root) {
        this.root = root;
    }

    /** Finds the cgroup2 mount; fails the test, saying what to do, when there is none. */
    static CgroupV2 find() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[2].equals("cgroup2")) {
                return new CgroupV2(Path.of(f[1]));
            }
        }
        fail("no cgroup2 hierarchy is mounted (expected: a cgroup2 line in /proc/self/mounts); mount one with"
                + " `mount -t cgroup2 none /sys/fs/cgroup/unified` or boot with systemd.unified_cgroup_hierarchy");
        return null;
    }

    Path path(String name) {
        return root.resolve(name);
    }

    Path create(String name) throws IOException {
        return Files.createDirectory(root.resolve(name));
    }

    /** The cgroup v2 path of {@code pid}, e.g. {@code /ferry-it-x}. */
    String of(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"))) {
            if (line.startsWith("0::")) {
                return line.substring(3);
            }
        }
        throw new IOException("/proc/" + pid + "/cgroup has no 0:: line");
    }

    /** Groups named {@code prefix*} in the other (v1) hierarchies under /sys/fs/cgroup: none expected. */
    List<Path> v1Leftovers(String prefix) throws IOException {
        List<Path> found = new ArrayList<>();
        Path base = Path.of("/sys/fs/cgroup");
        if (root.equals(base)) {
            return found;
        }
        try (Stream<Path> hierarchies = Files.list(base)) {
            for (Path h : hierarchies.filter(p -> !p.equals(root) && Files.isDirectory(p)).toList()) {
                try (Stream<Path> groups = Files.list(h)) {
                    groups.filter(g -> g.getFileName().toString().startsWith(prefix)).forEach(found::add);
                }
            }
        }
        return found;
    }

    /** Removes an empty group; waits up to 5 s for its processes to be gone (rmdir fails with EBUSY until then). */
    void remove(Path group) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + 5_000;
        while (Files.exists(group)) {
            try {
                Files.delete(group);
            } catch (IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("cannot remove cgroup " + group + ": " + e.getMessage(), e);
                }
                Thread.sleep(50);
            }
        }
    }
}
