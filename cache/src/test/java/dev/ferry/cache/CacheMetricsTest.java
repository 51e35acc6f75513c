package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The cache's meters move with what really happens on its receive path (a scripted proxy, real handler). */
class CacheMetricsTest {

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private final CacheMetrics metrics = new CacheMetrics(store);
    private final MeterRegistry registry = new SimpleMeterRegistry();
    private final EmbeddedChannel ch;

    CacheMetricsTest() {
        metrics.bindTo(registry);
        ch = new EmbeddedChannel(new ImageReceiveHandler(store, metrics, "target"));
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        store.close();
    }

    private double counter(String name, String... tags) {
        return registry.get(name).tags(tags).counter().count();
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void receivedBytesImagesAndOutcomesAreCounted() throws Exception {
        Map<String, byte[]> images = CriuSnapshotFixture.images();
        long total = images.values().stream().mapToLong(b -> b.length).sum();
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.send(ch, SnapshotName.of("one"), images);

        assertEquals(total, counter("ferry.image.received"));
        assertEquals(3, counter("ferry.images.received", "image.kind", "pages"));
        assertEquals(3, counter("ferry.images.received", "image.kind", "pagemap"));
        assertEquals(3, counter("ferry.images.received", "image.kind", "core"));
        assertEquals(1, counter("ferry.images.received", "image.kind", "pstree"));
        assertEquals(1, counter("ferry.snapshots", "outcome", "committed"));
        assertEquals(1, registry.get("ferry.snapshot.receive.duration").tags("outcome", "committed").timer().count());
        assertEquals(1, gauge("ferry.cache.snapshots", "state", "committed"));
        assertEquals(store.budget().used(), gauge("ferry.cache.memory.used"));
        assertEquals(store.budget().free(), gauge("ferry.cache.memory.free"));
        assertEquals(64L << 20, gauge("ferry.cache.memory.limit"));

        // the same name again is refused before anything is received
        ch.writeInbound(new SnapshotBegin(SnapshotName.of("one"), 0, 42));
        ErrorMessage refused = ch.readOutbound();
        assertEquals(ErrorCode.SNAPSHOT_EXISTS, refused.code());
        assertEquals(1, counter("ferry.snapshots", "outcome", "refused"));
        assertEquals(1, counter("ferry.errors", "code", "SNAPSHOT_EXISTS"));
        assertEquals(0, counter("ferry.snapshots", "outcome", "aborted"));
    }

    @Test
    void connectionClosedBeforeCommitCountsAsAborted() throws Exception {
        CriuSnapshotFixture.hello(ch);
        CriuSnapshotFixture.begin(ch, SnapshotName.of("two"), CriuSnapshotFixture.images());
        assertEquals(1, gauge("ferry.cache.snapshots", "state", "receiving"));
        ch.close();
        assertEquals(1, counter("ferry.snapshots", "outcome", "aborted"));
        assertEquals(0, gauge("ferry.cache.snapshots", "state", "receiving"));
        assertEquals(0, gauge("ferry.cache.memory.used"));
    }

    @Test
    void imageFailingItsChecksumCountsAsBad() throws Exception {
        CriuSnapshotFixture.hello(ch);
        ch.writeInbound(new SnapshotBegin(SnapshotName.of("three"), 0, 42));
        ch.readOutbound();
        ch.writeInbound(new dev.ferry.protocol.codec.ImageOpen(1, ImageName.of("pstree.img")));
        ch.writeInbound(new dev.ferry.protocol.codec.ImageEnd(1, 5, 0));
        ErrorMessage e = ch.readOutbound();
        assertEquals(ErrorCode.INTEGRITY, e.code());
        assertEquals(1, counter("ferry.snapshots", "outcome", "bad"));
        assertEquals(1, counter("ferry.errors", "code", "INTEGRITY"));
        assertEquals(1, gauge("ferry.cache.snapshots", "state", "bad"));
    }

    @Test
    void servedImagesAndRestoreOutcomesAreCounted() {
        metrics.imageServed(ImageName.of("pages-1.img"), 4096);
        metrics.imageServed(ImageName.of("core-1.img"), 100);
        metrics.restoreFinished(true, Duration.ofMillis(30));
        metrics.restoreFinished(false, Duration.ofMillis(10));
        assertEquals(4196, counter("ferry.image.served"));
        assertEquals(1, counter("ferry.images.served", "image.kind", "pages"));
        assertEquals(1, counter("ferry.images.served", "image.kind", "core"));
        assertEquals(1, counter("ferry.snapshots", "outcome", "restored"));
        assertEquals(1, counter("ferry.snapshots", "outcome", "restore_failed"));
        assertEquals(30, registry.get("ferry.restore.duration").tags("outcome", "restored").timer()
                .totalTime(java.util.concurrent.TimeUnit.MILLISECONDS), 0.001);
    }

    @Test
    void connectionsGaugeFollowsOpenAndClose() {
        metrics.connectionOpened();
        metrics.connectionOpened();
        metrics.connectionClosed();
        assertEquals(1, gauge("ferry.connections.active"));
    }
}
