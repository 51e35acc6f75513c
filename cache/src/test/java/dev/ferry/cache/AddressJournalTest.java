package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.net.ServiceAddress;
import dev.ferry.protocol.image.SnapshotName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal of service addresses a migration added; the sweep touches no real address here. */
class AddressJournalTest {

    @TempDir
    Path run;

    @Test
    void recordWritesOneEntryForgetRemovesIt() throws Exception {
        AddressJournal journal = new AddressJournal(run.resolve("migrations"));
        journal.record(SnapshotName.of("web1"), ServiceAddress.parse("10.231.99.100/32"), "eth0");
        Path entry = run.resolve("migrations/web1.addr");
        assertEquals("10.231.99.100/32 eth0\n", Files.readString(entry));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(entry.getParent())));
        journal.forget(SnapshotName.of("web1"));
        assertFalse(Files.exists(entry));
        assertTrue(journal.sweep().isEmpty(), "a forgotten entry was swept");
    }

    @Test
    void sweepTriesEveryLeftoverAndEmptiesTheJournal() throws Exception {
        Path dir = Files.createDirectories(run.resolve("migrations"));
        // an address on a device that does not exist: `ip addr del` fails, nothing on this host changes
        Files.writeString(dir.resolve("web1.addr"), "10.231.99.101/32 ferry-nodev0\n");
        Files.writeString(dir.resolve("web2.addr"), "garbage\n");
        Files.writeString(dir.resolve("web3.addr.tmp"), "10.231.99.103/32 eth0\n");

        List<String> lines = new AddressJournal(dir).sweep();

        assertEquals(3, lines.size(), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("found no 10.231.99.101/32 on ferry-nodev0 left by"
                + " migration web1")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("web2.addr") && l.contains("expected: CIDR DEVICE")),
                lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("web3.addr.tmp") && l.contains("never added")),
                lines.toString());
        try (var left = Files.list(dir)) {
            assertEquals(0, left.count(), "the sweep left entries behind");
        }
    }

    @Test
    void noJournalNoSweep() {
        assertTrue(new AddressJournal(run.resolve("absent")).sweep().isEmpty());
    }
}
