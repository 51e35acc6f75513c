package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.image.SnapshotName;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class SnapshotMemoryTest {

    private static final long MIB = 1 << 20;

    @Test
    void reservationAtBeginCountsAgainstEveryOtherSnapshot_refusalNamesMaxMemoryAndChangesNothing() {
        MemoryBudget budget = new MemoryBudget(100 * MIB);
        SnapshotMemory first = SnapshotMemory.reserve(SnapshotName.of("a"), budget, 60 * MIB);
        long used = budget.used();
        assertEquals(SnapshotMemory.reservationFor(60 * MIB), used, "the whole estimate plus margin is reserved");
        assertEquals(used, budget.ahead(), "reserved ahead: no image took any of it yet");

        ProtocolException e = assertThrows(ProtocolException.class,
                () -> SnapshotMemory.reserve(SnapshotName.of("b"), budget, 30 * MIB));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("--max-memory"), e.getMessage());
        assertEquals(used, budget.used(), "a refused reservation leaves the budget unchanged");

        first.close();
        assertEquals(0, budget.used());
        assertEquals(0, budget.ahead());
        SnapshotMemory.reserve(SnapshotName.of("b"), budget, 30 * MIB).close(); // fits once the first is gone
    }

    @Test
    void imagesTakeFromTheReservation_growIntoFreeMemoryOnly_andCommitGivesTheSpareBack() {
        MemoryBudget budget = new MemoryBudget(100 * MIB);
        SnapshotMemory a = SnapshotMemory.reserve(SnapshotName.of("a"), budget, 20 * MIB);
        SnapshotMemory b = SnapshotMemory.reserve(SnapshotName.of("b"), budget, 40 * MIB);
        long reservedB = b.reserved();
        long usedBefore = budget.used();

        a.take(10 * MIB);
        assertEquals(usedBefore, budget.used(), "taken from the reservation: nothing more is reserved");
        long free = budget.free();
        a.take(a.reserved() - 10 * MIB + free); // outgrows its estimate: grows into all the free memory
        assertEquals(0, budget.free());
        ProtocolException e = assertThrows(ProtocolException.class, () -> a.take(MIB));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("outgrew its reservation") && e.getMessage().contains("--max-memory"),
                e.getMessage());
        assertEquals(reservedB, b.reserved(), "the other snapshot's reservation is untouched");
        b.take(reservedB); // and all of it can still be taken
        assertEquals(0, budget.ahead());

        b.give(reservedB - 5 * MIB); // say the images of b hold less at commit
        b.trim();
        a.give(a.reserved());
        a.close();
        assertEquals(5 * MIB, budget.used());
        b.give(5 * MIB);
        b.close();
        assertEquals(0, budget.used());
    }

    @Test
    void commitTrimsTheUnusedEstimate() {
        MemoryBudget budget = new MemoryBudget(100 * MIB);
        SnapshotMemory s = SnapshotMemory.reserve(SnapshotName.of("s"), budget, 50 * MIB);
        s.take(30 * MIB);
        s.trim();
        assertEquals(30 * MIB, budget.used());
        assertEquals(0, budget.ahead());
        s.give(30 * MIB);
        s.close();
        assertEquals(0, budget.used());
    }

    @Test
    void concurrentReservationsNeverPassTheLimit() throws Exception {
        MemoryBudget budget = new MemoryBudget(1000 * MIB);
        int threads = 16;
        long each = 100 * MIB; // 16 want ~1.7 GB, 1000 MiB fit: 9 of them (with the margin)
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Thread> all = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int n = i;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    SnapshotMemory.reserve(SnapshotName.of("s" + n), budget, each);
                    admitted.incrementAndGet();
                } catch (ProtocolException e) {
                    refused.incrementAndGet();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            t.start();
            all.add(t);
        }
        go.countDown();
        for (Thread t : all) {
            t.join(10_000);
        }
        long per = SnapshotMemory.reservationFor(each);
        assertEquals(1000 * MIB / per, admitted.get(), "as many as fit are admitted");
        assertEquals(threads - admitted.get(), refused.get());
        assertEquals(admitted.get() * per, budget.used());
        assertTrue(budget.used() <= budget.limit());
    }
}
