package dev.ferry.cli.lab;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Short private directories under /tmp ({@code /tmp/fy-XXXX}, mode 0700) for daemon run dirs,
 * logs and workload files. Short because unix socket paths are limited to 107 bytes.
 */
public final class ScratchDir {

    private ScratchDir() {
    }

    /** Creates {@code /tmp/fy-XXXX} (4 random hex digits) with mode 0700. */
    public static Path create() throws IOException {
        SecureRandom random = new SecureRandom();
        for (int attempt = 0; attempt < 20; attempt++) {
            byte[] bytes = new byte[2];
            random.nextBytes(bytes);
            Path dir = Path.of("/tmp", "fy-" + HexFormat.of().formatHex(bytes));
            try {
                return createPrivate(dir);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // try another name
            }
        }
        throw new IOException("cannot create a fresh /tmp/fy-XXXX directory");
    }

    /** Creates {@code dir} with mode 0700 (fails if it exists). */
    public static Path createPrivate(Path dir) throws IOException {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        // the umask may have removed bits we asked for; make the mode exact
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        return dir;
    }

    /** Creates {@code dir} with mode 0700 unless it already exists. */
    public static Path ensurePrivate(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return dir;
        }
        return createPrivate(dir);
    }

    /** Every regular file under {@code root} (recursively) whose name ends with {@code suffix}. */
    public static List<Path> findFiles(Path root, String suffix) throws IOException {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(suffix) && !Files.isDirectory(p))
                    .toList();
        }
    }

    /** Deletes {@code dir} recursively; missing files are fine. */
    public static void deleteRecursively(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        List<IOException> failures = new ArrayList<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) {
                if (!(exc instanceof NoSuchFileException)) {
                    failures.add(exc);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) {
                delete(d);
                return FileVisitResult.CONTINUE;
            }

            private void delete(Path p) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    failures.add(e);
                }
            }
        });
        if (!failures.isEmpty()) {
            IOException first = failures.get(0);
            failures.stream().skip(1).forEach(first::addSuppressed);
            throw first;
        }
    }
}
