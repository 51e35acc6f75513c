package dev.ferry.criu;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Private work directories for one CRIU run ({@code -D}): {@code <root>/<prefix>-<8 hex>}, mode 0700. The name is
 * short on purpose (the streamer socket path must fit in 107 bytes) and never holds a user-supplied name.
 */
public final class CriuWorkDir {

    private static final Logger LOG = Logger.getLogger(CriuWorkDir.class.getName());

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final SecureRandom RANDOM = new SecureRandom();

    private CriuWorkDir() {
    }

    /** Creates {@code root} if needed, then a fresh private directory in it; returns its absolute path. */
    public static Path create(Path root, String prefix) throws IOException {
        Path absoluteRoot = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(absoluteRoot)) {
            Files.createDirectories(absoluteRoot, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        }
        for (int attempt = 0; attempt < 16; attempt++) {
            Path dir = absoluteRoot.resolve(prefix + "-" + String.format("%08x", RANDOM.nextInt()));
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } catch (FileAlreadyExistsException e) {
                continue;
            }
            Files.setPosixFilePermissions(dir, OWNER_ONLY); // the umask may have removed bits, never added any
            return dir;
        }
        throw new IOException("could not create a fresh work directory in " + absoluteRoot + " after 16 attempts");
    }

    /**
     * Null if {@code dir} (created if missing) is on tmpfs; else what is wrong. Post-copy keeps CRIU's non-page
     * images there while they are sent or restored: ferry never writes checkpoint images to disk.
     */
    public static String tmpfsProblem(java.nio.file.Path dir) {
        try {
            java.nio.file.Files.createDirectories(dir);
            String type = java.nio.file.Files.getFileStore(dir).type();
            if (type.equals("tmpfs") || type.equals("ramfs")) {
                return null;
            }
            return dir + " is on " + type + " (expected: tmpfs, since ferry never writes checkpoint images to disk);"
                    + " mount a tmpfs on /dev/shm";
        } catch (java.io.IOException e) {
            return "cannot use " + dir + " for post-copy images: " + e.getMessage();
        }
    }

    /**
     * Deletes {@code dir} and everything in it, as far as it can; what it cannot delete is logged (WARNING), a missing
     * dir is nothing to do. For the dirs {@link #create} made, once nothing in them is needed.
     */
    public static void delete(Path dir) {
        try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    LOG.warning(() -> "deleting " + p + ": " + e.getMessage());
                }
            });
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        } catch (IOException e) {
            LOG.warning(() -> "deleting " + dir + ": " + e.getMessage());
        }
    }
}
