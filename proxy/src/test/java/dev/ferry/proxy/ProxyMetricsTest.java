package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageName;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** The proxy's meters move with its events. */
class ProxyMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ProxyMetrics metrics = new ProxyMetrics();

    @Test
    void countsBytesImagesOutcomesAndTimes() {
        metrics.bytesSent(10); // before binding: dropped, never a failure
        metrics.bindTo(registry);
        assertEquals(0, registry.get("ferry.snapshots").tag("outcome", "committed").counter().count(), "shown at 0");

        metrics.linkOpened();
        assertEquals(1, registry.get("ferry.connections.active").gauge().value());
        metrics.bytesSent(4096);
        metrics.bytesSent(100);
        metrics.imageSent(ImageName.of("pages-1.img"));
        metrics.imageSent(ImageName.of("pagemap-1.img"));
        metrics.imageSent(ImageName.of("pages-2.img"));
        metrics.snapshotCommitted(Duration.ofMillis(250));
        metrics.frozen(Duration.ofMillis(40));
        metrics.linkClosed();

        assertEquals(4196, registry.get("ferry.image.sent").counter().count());
        assertEquals(2, registry.get("ferry.images.sent").tag("image.kind", "pages").counter().count());
        assertEquals(1, registry.get("ferry.images.sent").tag("image.kind", "pagemap").counter().count());
        assertEquals(1, registry.get("ferry.snapshots").tag("outcome", "committed").counter().count());
        assertEquals(250, registry.get("ferry.dump.duration").tag("outcome", "committed").timer()
                .totalTime(TimeUnit.MILLISECONDS), 0.001);
        assertEquals(40, registry.get("ferry.dump.frozen").timer().totalTime(TimeUnit.MILLISECONDS), 0.001);
        assertEquals(0, registry.get("ferry.connections.active").gauge().value());

        metrics.snapshotRefused(ErrorCode.SNAPSHOT_EXISTS);
        metrics.error(ErrorCode.SNAPSHOT_EXISTS);
        metrics.snapshotAborted(Duration.ofMillis(5));
        assertEquals(1, registry.get("ferry.snapshots").tag("outcome", "refused").counter().count());
        assertEquals(1, registry.get("ferry.snapshots").tag("outcome", "aborted").counter().count());
        assertEquals(1, registry.get("ferry.errors").tag("code", "SNAPSHOT_EXISTS").counter().count());
    }
}
