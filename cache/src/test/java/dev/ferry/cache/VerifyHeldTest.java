package dev.ferry.cache;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.VerifyRequest;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ferry images verify}: held memory is re-checked against the manifest verified at commit. */
class VerifyHeldTest {

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private final VerifyService verify = new VerifyService(store);

    @AfterEach
    void tearDown() {
        store.close();
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    /** A committed snapshot of three images; the first spans several chunks (64 KiB, 128 KiB, ...). */
    private StoredSnapshot committed(String name) {
        StoredSnapshot s = store.begin(SnapshotName.of(name), "source", 0);
        List<ImageDigest> manifest = new ArrayList<>();
        int[] sizes = {300_000, 17, 0};
        for (int i = 0; i < sizes.length; i++) {
            byte[] data = new byte[sizes[i]];
            new Random(i).nextBytes(data);
            ImageName image = ImageName.of(i == 0 ? "pages-1.img" : "core-" + i + ".img");
            MemoryImage m = new MemoryImage(image, UnpooledByteBufAllocator.DEFAULT, store.budget(), store.chunks());
            s.add(m);
            for (int off = 0; off < data.length; off += 50_000) {
                m.append(Unpooled.wrappedBuffer(data, off, Math.min(50_000, data.length - off)));
            }
            m.complete();
            manifest.add(new ImageDigest(image, data.length, crc(data)));
        }
        s.verify(manifest);
        store.commit(s);
        return s;
    }

    private static Result verify(VerifyService v, String name) {
        return v.verify(VerifyRequest.newBuilder().setSnapshot(name).build());
    }

    @Test
    void intactSnapshotMatchesItsManifest() {
        StoredSnapshot s = committed("web1");
        assertEquals(3, s.manifest().size());
        StoredSnapshot.HeldCheck check = s.verifyHeld();
        assertNull(check.problem());
        assertEquals(3, check.images());
        assertEquals(300_017, check.bytes());

        Result r = verify(verify, "web1");
        assertTrue(r.getOk(), r.getMessage());
        assertEquals(ExitCode.OK.code(), r.getExitCode());
        assertEquals("snapshot web1: 3 images, 300017 bytes, all checksums match", r.getMessage());
    }

    @Test
    void oneFlippedByteIsAnIntegrityFailureNamingTheImage() {
        StoredSnapshot s = committed("web1");
        s.corruptForTest(ImageName.of("pages-1.img"), 200_000); // in the second or third chunk
        StoredSnapshot.HeldCheck check = s.verifyHeld();
        assertFalse(check.ok());
        assertTrue(check.problem().contains("pages-1.img"), check.problem());

        Result r = verify(verify, "web1");
        assertFalse(r.getOk());
        assertEquals(ExitCode.INTEGRITY.code(), r.getExitCode(), r.getMessage());
        assertTrue(r.getMessage().contains("pages-1.img"), r.getMessage());
        assertTrue(r.getMessage().contains("expected"), r.getMessage());
    }

    @Test
    void corruptionOfALaterImageNamesThatImage() {
        StoredSnapshot s = committed("web1");
        s.corruptForTest(ImageName.of("core-1.img"), 0);
        Result r = verify(verify, "web1");
        assertEquals(ExitCode.INTEGRITY.code(), r.getExitCode(), r.getMessage());
        assertTrue(r.getMessage().contains("core-1.img"), r.getMessage());
        assertEquals(1, r.getImages(), "pages-1.img was checked and matched first");
    }

    @Test
    void unknownOrUncommittedSnapshotIsNotFoundAndNamesWhatIsHeld() {
        committed("web1");
        store.begin(SnapshotName.of("incoming"), "source", 0);
        Result r = verify(verify, "nope");
        assertEquals(ExitCode.NOT_FOUND.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("web1 (COMMITTED)"), r.getMessage());
        assertTrue(r.getMessage().contains("incoming (RECEIVING)"), r.getMessage());
        assertEquals(ExitCode.NOT_FOUND.code(), verify(verify, "incoming").getExitCode(), "never verified before its commit");
    }

    @Test
    void badNameIsUsageError() {
        assertEquals(ExitCode.USAGE.code(), verify(verify, "../x").getExitCode());
    }
}
