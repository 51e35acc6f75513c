package dev.ferry.proxy;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.metrics.FerryMeters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The image-proxy's meters (see {@link FerryMeters} and docs/metrics.md), fed by {@link ProxyEvents}. Events before
 * {@link #bindTo} are dropped. Thread-safe.
 */
public final class ProxyMetrics implements ProxyEvents, MeterBinder {

    private final AtomicInteger links = new AtomicInteger();
    private volatile MeterRegistry registry;
    private volatile Counter bytesSent;
    private volatile Counter reconnects;

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        bytesSent = counter(registry, FerryMeters.IMAGE_SENT).register(registry);
        reconnects = counter(registry, FerryMeters.LINK_RECONNECTS).register(registry);
        Gauge.builder(FerryMeters.CONNECTIONS.name(), links, AtomicInteger::get)
                .description(FerryMeters.CONNECTIONS.description()).register(registry);
        // every outcome shows from the start, at 0, so that rates and alerts need no special case
        for (String outcome : new String[] {FerryMeters.OUTCOME_COMMITTED, FerryMeters.OUTCOME_ABORTED,
                FerryMeters.OUTCOME_REFUSED}) {
            snapshots(outcome);
        }
    }

    private static Counter.Builder counter(MeterRegistry registry, FerryMeters.Meter meter) {
        Counter.Builder b = Counter.builder(meter.name()).description(meter.description());
        return meter.unit() == null ? b : b.baseUnit(meter.unit());
    }

    private Counter snapshots(String outcome) {
        return counter(registry, FerryMeters.SNAPSHOTS).tag(FerryMeters.TAG_OUTCOME, outcome).register(registry);
    }

    private Timer timer(FerryMeters.Meter meter, String... tags) {
        return Timer.builder(meter.name()).description(meter.description()).tags(tags).register(registry);
    }

    @Override
    public void linkOpened() {
        links.incrementAndGet();
    }

    @Override
    public void linkClosed() {
        links.decrementAndGet();
    }

    @Override
    public void bytesSent(long bytes) {
        Counter c = bytesSent;
        if (c != null) {
            c.increment(bytes);
        }
    }

    @Override
    public void reconnect() {
        Counter c = reconnects;
        if (c != null) {
            c.increment();
        }
    }

    @Override
    public void lazyBytesSent(long bytes) {
        if (registry != null) {
            counter(registry, FerryMeters.LAZY_SENT).register(registry).increment(bytes);
        }
    }

    @Override
    public void imageSent(ImageName name) {
        if (registry != null) {
            counter(registry, FerryMeters.IMAGES_SENT).tag(FerryMeters.TAG_IMAGE_KIND, FerryMeters.imageKind(name.value()))
                    .register(registry).increment();
        }
    }

    @Override
    public void snapshotRefused(ErrorCode code) {
        if (registry != null) {
            snapshots(FerryMeters.OUTCOME_REFUSED).increment();
        }
    }

    @Override
    public void snapshotCommitted(Duration dump) {
        if (registry != null) {
            snapshots(FerryMeters.OUTCOME_COMMITTED).increment();
            timer(FerryMeters.DUMP_DURATION, FerryMeters.TAG_OUTCOME, FerryMeters.OUTCOME_COMMITTED).record(dump);
        }
    }

    @Override
    public void snapshotAborted(Duration dump) {
        if (registry != null) {
            snapshots(FerryMeters.OUTCOME_ABORTED).increment();
            timer(FerryMeters.DUMP_DURATION, FerryMeters.TAG_OUTCOME, FerryMeters.OUTCOME_ABORTED).record(dump);
        }
    }

    @Override
    public void error(ErrorCode code) {
        if (registry != null) {
            counter(registry, FerryMeters.ERRORS).tag(FerryMeters.TAG_CODE, code.name()).register(registry).increment();
        }
    }

    @Override
    public void frozen(Duration frozen) {
        if (registry != null) {
            timer(FerryMeters.DUMP_FROZEN).record(frozen);
        }
    }
}
