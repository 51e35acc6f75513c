package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ProcessInfo;
import dev.ferry.protocol.control.RemoveRequest;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.ShowRequest;
import dev.ferry.protocol.control.SnapshotDetail;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.channel.embedded.EmbeddedChannel;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code ferry images show} and {@code rm} in the cache, over the images of a real CRIU dump received for real. */
class SnapshotInspectorTest {

    private static final SnapshotName SNAP = SnapshotName.of("sh-sleep");

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private final EmbeddedChannel ch = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target"));

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        store.close();
    }

    private Result show() {
        return CacheControl.show(store, ShowRequest.newBuilder().setSnapshot(SNAP.value()).build());
    }

    private Result rm() {
        return CacheControl.remove(store, RemoveRequest.newBuilder().setSnapshot(SNAP.value()).build());
    }

    @Test
    void showsTheProcessTreeOfARealCriuDump() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.send(ch, SNAP, CriuSnapshotFixture.images());

        Result r = show();
        assertTrue(r.getOk(), r.getMessage());
        SnapshotDetail d = r.getDetail();
        assertEquals("sh-sleep", d.getInfo().getName());
        assertEquals("COMMITTED", d.getInfo().getState());
        assertEquals(3, d.getPagesImages());
        assertEquals(122880 + 126976 + 126976, d.getPagesBytes());
        List<ProcessInfo> ps = d.getProcessesList();
        assertEquals(List.of(1, 2, 8), ps.stream().map(ProcessInfo::getPid).toList());
        ProcessInfo sh = ps.get(0);
        assertEquals(0, sh.getPpid());
        assertEquals("sh", sh.getComm());
        assertEquals("alive", sh.getState());
        assertEquals(List.of(1), sh.getThreadsList());
        assertEquals(1, sh.getSid());
        for (ProcessInfo sleep : ps.subList(1, 3)) {
            assertEquals(1, sleep.getPpid());
            assertEquals("sleep", sleep.getComm());
            assertEquals(List.of(sleep.getPid()), sleep.getThreadsList());
        }
        // each task's PE_PRESENT pages are exactly its pages image: pagemap-1 → pages-1, -2 → pages-2, -8 → pages-3
        assertEquals(122880, sh.getMemoryBytes());
        assertEquals(126976, ps.get(1).getMemoryBytes());
        assertEquals(126976, ps.get(2).getMemoryBytes());
    }

    @Test
    void showOfASnapshotStillBeingReceivedIsRefused() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.begin(ch, SNAP, CriuSnapshotFixture.images());
        Result r = show();
        assertEquals(ExitCode.REFUSED.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("still being received"), r.getMessage());
    }

    @Test
    void showOfDamagedImagesSaysWhichImage() throws Exception {
        Map<String, byte[]> images = CriuSnapshotFixture.images();
        images.get("pstree.img")[4] ^= 0x40; // pstree's type magic
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.send(ch, SNAP, images);
        Result r = show();
        assertEquals(ExitCode.INTEGRITY.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("pstree.img: magic"), r.getMessage());
    }

    @Test
    void showAndRmOfAnUnknownSnapshotAreNotFound() {
        assertEquals(ExitCode.NOT_FOUND.code(), show().getExitCode());
        Result r = rm();
        assertEquals(ExitCode.NOT_FOUND.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("holds: nothing"), r.getMessage());
    }

    @Test
    void rmFreesACommittedSnapshotsMemory() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.send(ch, SNAP, CriuSnapshotFixture.images());
        long used = store.budget().used();
        assertTrue(used > 0);

        Result r = rm();
        assertTrue(r.getOk(), r.getMessage());
        assertEquals(used, r.getBytes(), "bytes freed");
        assertEquals(11, r.getImages());
        assertEquals(0, store.budget().used());
        assertTrue(store.get(SNAP).isEmpty());
        assertEquals(ExitCode.NOT_FOUND.code(), rm().getExitCode());
    }

    @Test
    void rmRefusesASnapshotBeingReceived() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.begin(ch, SNAP, CriuSnapshotFixture.images());
        Result r = rm();
        assertEquals(ExitCode.REFUSED.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("RECEIVING") && r.getMessage().contains("still being received"), r.getMessage());
        assertTrue(store.get(SNAP).isPresent());
    }

    @Test
    void rmRefusesASnapshotBeingRestored() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.send(ch, SNAP, CriuSnapshotFixture.images());
        StoredSnapshot s = store.committed(SNAP).orElseThrow();
        assertTrue(store.startRestore(s));
        Result r = rm();
        assertEquals(ExitCode.REFUSED.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("RESTORING") && r.getMessage().contains("being restored"), r.getMessage());
        assertFalse(s.find(dev.ferry.protocol.image.ImageName.of("pstree.img")).isEmpty(), "memory kept");
        store.finishRestore(s);
        assertTrue(rm().getOk());
    }
}
