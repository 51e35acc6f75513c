package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.buffer.ByteBuf;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ChunkPoolTest {

    @Test
    void aChunkGivenBackIsTakenAgainEmpty_lastGivenFirst() {
        try (ChunkPool pool = new ChunkPool(64L << 20)) {
            ByteBuf a = pool.take();
            ByteBuf b = pool.take();
            a.writeLong(42);
            pool.give(a);
            pool.give(b);
            assertSame(b, pool.take(), "the chunk given back last (most likely still in the CPU's caches) comes first");
            ByteBuf again = pool.take();
            assertSame(a, again);
            assertEquals(0, again.readableBytes(), "a reused chunk comes back empty");
            assertEquals(ChunkPool.CHUNK, again.writableBytes());
            assertEquals(2, pool.takes()[0], "reused");
            assertEquals(2, pool.takes()[1], "allocated");
            pool.give(again);
            pool.give(b);
        }
    }

    @Test
    void keepsNoMoreThanItsLimitIdle() {
        try (ChunkPool pool = new ChunkPool(2L * ChunkPool.CHUNK)) {
            ByteBuf a = pool.take();
            ByteBuf b = pool.take();
            ByteBuf c = pool.take();
            pool.give(a);
            pool.give(b);
            pool.give(c); // over the limit: released, not kept
            assertEquals(2L * ChunkPool.CHUNK, pool.idleBytes());
            assertEquals(0, c.refCnt(), "a chunk over the limit must be released");
        }
    }

    @Test
    void trimReleasesIdleChunksOnlyAfterTheyWentUnused() throws Exception {
        ChunkPool pool = new ChunkPool(64L << 20);
        ByteBuf a = pool.take();
        pool.give(a);
        assertEquals(0, pool.trim(Duration.ofMinutes(5)), "trimmed although a chunk was just taken");
        Thread.sleep(20);
        assertEquals(ChunkPool.CHUNK, pool.trim(Duration.ofMillis(10)));
        assertEquals(0, a.refCnt());
        assertEquals(0, pool.idleBytes());
        ByteBuf fresh = pool.take();
        assertNotSame(a, fresh);
        pool.close();
        pool.give(fresh); // after close: released at once
        assertEquals(0, fresh.refCnt());
    }

    @Test
    void prefaultMakesTheAnnouncedChunksAheadOfTheTaker_withinTheIdleLimit() throws Exception {
        try (ChunkPool pool = new ChunkPool(3L * ChunkPool.CHUNK)) {
            pool.prefault(10L * ChunkPool.CHUNK); // more than the idle limit: only 3 are made
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (pool.idleBytes() < 3L * ChunkPool.CHUNK && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(3L * ChunkPool.CHUNK, pool.idleBytes());
            assertEquals(3, pool.takes()[2], "prefaulted");
            ByteBuf a = pool.take();
            assertEquals(0, a.readableBytes());
            assertEquals(ChunkPool.CHUNK, a.writableBytes());
            assertEquals(0, pool.takes()[1], "the taker allocated nothing itself");
            pool.prefault(ChunkPool.CHUNK); // two are still idle: nothing more to make
            Thread.sleep(50);
            assertEquals(2L * ChunkPool.CHUNK, pool.idleBytes());
            pool.give(a);
        }
    }

    @Test
    void closeReleasesPrefaultedChunks() {
        ChunkPool pool = new ChunkPool(64L << 20);
        pool.prefault(8L * ChunkPool.CHUNK);
        pool.close();
        assertEquals(0, pool.idleBytes());
        pool.prefault(ChunkPool.CHUNK); // after close: nothing happens
        assertEquals(0, pool.idleBytes());
    }
}
