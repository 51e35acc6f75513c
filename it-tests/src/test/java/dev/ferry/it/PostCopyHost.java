package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What the post-copy test classes share about this host: {@code fs.pipe-max-size} raised to what a {@code --lazy}
 * source needs for the class and put back after it, and what a post-copy run may leave behind (CRIU processes, images
 * in {@code /dev/shm/ferry}). Only what a class adds to {@code /dev/shm/ferry} after {@link #beforeAll} is its own.
 * A JUnit extension: {@code @RegisterExtension static final PostCopyHost HOST = new PostCopyHost();}.
 */
final class PostCopyHost implements BeforeAllCallback, AfterAllCallback {

    static final String LAZY_PIPE_MAX = "4194304";
    private static final Path PIPE_MAX = Path.of("/proc/sys/fs/pipe-max-size");
    private static final Path LAZY_DIR = Path.of("/dev/shm/ferry");

    private volatile String pipeMaxBefore;
    private volatile List<String> lazyDirBefore = List.of();

    /** Notes the sysctl and {@code /dev/shm/ferry} as they are, and raises the sysctl to 4 MiB if it is lower. */
    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        lazyDirBefore = listLazyDir();
        String before = pipeMax();
        if (Long.parseLong(before) < Long.parseLong(LAZY_PIPE_MAX)) {
            setPipeMax(LAZY_PIPE_MAX);
        }
        pipeMaxBefore = before;
    }

    /** Puts {@code fs.pipe-max-size} back as {@link #beforeAll} found it. */
    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        if (pipeMaxBefore != null) {
            setPipeMax(pipeMaxBefore);
        }
    }

    static String pipeMax() throws IOException {
        return dev.ferry.posix.Pipes.readSysctl(PIPE_MAX);
    }

    /** One write(2), as sysctl(8) does: procfs takes a value only whole, in a single write. */
    static void setPipeMax(String value) throws IOException {
        try (FileChannel out = FileChannel.open(PIPE_MAX, StandardOpenOption.WRITE)) {
            out.write(ByteBuffer.wrap((value + "\n").getBytes(StandardCharsets.US_ASCII)));
        }
        String now = pipeMax();
        if (!now.equals(value)) {
            throw new IOException("fs.pipe-max-size: " + now + " after writing " + value);
        }
    }

    /** Entries the runs since {@link #beforeAll} left in /dev/shm/ferry (post-copy's images dirs). */
    List<String> leftInLazyDir() throws IOException {
        List<String> now = new ArrayList<>(listLazyDir());
        now.removeAll(lazyDirBefore);
        return now;
    }

    private static List<String> listLazyDir() throws IOException {
        if (!Files.isDirectory(LAZY_DIR)) {
            return List.of();
        }
        try (var s = Files.list(LAZY_DIR)) {
            return s.map(Path::toString).toList();
        }
    }

    /**
     * After an image-proxy was killed: what it added to /dev/shm/ferry since {@code before} must be its own images dir
     * ({@code l-*}, which nobody is left to delete; the target's {@code r-*} must be gone), and is deleted here.
     */
    void deleteWhatADeadProxyLeft(List<String> before) throws IOException {
        List<String> left = new ArrayList<>(leftInLazyDir());
        left.removeAll(before);
        for (String d : left) {
            Path dir = Path.of(d);
            assertTrue(dir.getFileName().toString().startsWith("l-"), "post-copy images of the target are left: " + left);
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Post-copy CRIU processes of any kind: dump or restore with --lazy-pages, lazy-pages, a swrk that took a restore. */
    static List<String> criuProcesses() throws IOException {
        List<String> found = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (!p.getFileName().toString().matches("\\d+")) {
                    continue;
                }
                try {
                    String cmd = Files.readString(p.resolve("cmdline")).replace('\0', ' ');
                    if (cmd.contains("/sbin/criu ") && (cmd.contains(" lazy-pages") || cmd.contains("--lazy-pages"))
                            || cmd.contains("restore --rpc")) { // a swrk that took a restore (an idle spare is no leftover)
                        found.add(p.getFileName() + ": " + cmd.strip());
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            }
        }
        return found;
    }

    /** A condition {@link #waitUntil} polls. */
    interface Check {
        boolean ok() throws Exception;
    }

    /** Polls {@code check} every 50 ms; fails with {@code message} if it does not hold within {@code millis}. */
    static void waitUntil(Check check, long millis, String message) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (!check.ok()) {
            if (System.currentTimeMillis() > deadline) {
                org.junit.jupiter.api.Assertions.fail(message);
            }
            Thread.sleep(50);
        }
    }

    /** The number {@code key} of a one-line JSON object, as ferry's {@code --json} prints it. */
    static long jsonLong(String json, String key) {
        int i = json.indexOf("\"" + key + "\"");
        assertTrue(i >= 0, () -> "no " + key + " in " + json);
        int c = json.indexOf(':', i) + 1;
        int e = c;
        while (e < json.length() && (Character.isDigit(json.charAt(e)) || json.charAt(e) == ' ')) {
            e++;
        }
        return Long.parseLong(json.substring(c, e).trim());
    }
}
