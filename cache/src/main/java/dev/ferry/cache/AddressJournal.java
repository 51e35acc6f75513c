package dev.ferry.cache;

import dev.ferry.net.ServiceAddress;
import dev.ferry.protocol.image.SnapshotName;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The service addresses a migration has added on this node and not yet handed to a running tree, one file per
 * migration ({@code <dir>/<snapshot>.addr}: {@code CIDR DEVICE}). A migration writes its entry before it adds the
 * address and deletes it once the address is either removed again (the migration failed) or belongs to the restored
 * tree (just before SNAPSHOT_RESTORED). An entry left over means the image-cache stopped in between, while the
 * source resumed: {@link #sweep()} at the next start removes those addresses, so that the target does not answer for
 * an address the source holds.
 *
 * <p>Ownership: the image-cache owns the directory (in its run dir, 0700); one entry per migration, written and
 * deleted by that migration's restore thread. Thread-safe: entries of different snapshots are different files.
 */
final class AddressJournal {

    private static final Logger LOG = Logger.getLogger(AddressJournal.class.getName());
    private static final String SUFFIX = ".addr";

    private final Path dir;

    AddressJournal(Path dir) {
        this.dir = dir;
    }

    /** Records that {@code address} is about to be added on {@code device} for {@code snapshot}. */
    void record(SnapshotName snapshot, ServiceAddress address, String device) throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path tmp = dir.resolve(snapshot.value() + SUFFIX + ".tmp");
        Files.writeString(tmp, address.cidr() + " " + device + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, entry(snapshot), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The address of {@code snapshot} is removed again or handed to its running tree: nothing to sweep. */
    void forget(SnapshotName snapshot) {
        try {
            Files.deleteIfExists(entry(snapshot));
        } catch (IOException e) {
            LOG.warning(() -> "forgetting the service address of " + snapshot + ": " + e.getMessage());
        }
    }

    /**
     * Removes every address a migration added and did not finish with (the image-cache stopped during it), and
     * the entries; returns one line per address, for the log.
     */
    List<String> sweep() {
        List<String> swept = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return swept;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "*" + SUFFIX + "*")) {
            for (Path e : entries) {
                swept.add(sweepOne(e));
            }
        } catch (IOException e) {
            swept.add("cannot read " + dir + ": " + e.getMessage() + "; check `ip addr` for service addresses of"
                    + " migrations that did not finish");
        }
        return swept;
    }

    private static String sweepOne(Path e) {
        String name = e.getFileName().toString();
        try {
            if (name.endsWith(".tmp")) {
                return "dropped the unfinished entry " + name + " (its address was never added)";
            }
            String[] parts = Files.readString(e, StandardCharsets.US_ASCII).strip().split(" ");
            if (parts.length != 2) {
                return "entry " + e + " holds '" + String.join(" ", parts) + "' (expected: CIDR DEVICE); dropped it";
            }
            ServiceAddress address = ServiceAddress.parse(parts[0]);
            boolean removed = address.remove(parts[1]);
            return (removed ? "removed " : "found no ") + address.cidr() + " on " + parts[1] + " left by migration "
                    + name.substring(0, name.length() - SUFFIX.length()) + ", which did not finish (the image-cache"
                    + " stopped during it; its source resumed)";
        } catch (IOException | RuntimeException ex) {
            return "entry " + e + ": " + ex.getMessage() + "; check `ip addr` by hand";
        } finally {
            try {
                Files.deleteIfExists(e);
            } catch (IOException ignored) {
                // reported by the next sweep
            }
        }
    }

    private Path entry(SnapshotName snapshot) {
        return dir.resolve(snapshot.value() + SUFFIX);
    }
}
