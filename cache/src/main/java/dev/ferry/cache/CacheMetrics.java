package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.metrics.FerryMeters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The image-cache's meters (see {@link FerryMeters} and docs/metrics.md): counters and timers fed by
 * {@link CacheEvents}, gauges read from the {@link SnapshotStore} and its {@link MemoryBudget} at each scrape.
 * Events before {@link #bindTo} are dropped. Thread-safe.
 */
public final class CacheMetrics implements CacheEvents, MeterBinder {

    private final SnapshotStore store;
    private final AtomicInteger connections = new AtomicInteger();
    private volatile MeterRegistry registry;
    private volatile Counter received;
    private volatile Counter served;

    public CacheMetrics(SnapshotStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        received = counter(FerryMeters.IMAGE_RECEIVED).register(registry);
        served = counter(FerryMeters.IMAGE_SERVED).register(registry);
        MemoryBudget budget = store.budget();
        gauge(FerryMeters.MEMORY_USED, budget, MemoryBudget::used);
        gauge(FerryMeters.MEMORY_FREE, budget, MemoryBudget::free);
        gauge(FerryMeters.MEMORY_LIMIT, budget, MemoryBudget::limit);
        gauge(FerryMeters.MEMORY_IDLE, store.chunks(), ChunkPool::idleBytes);
        Gauge.builder(FerryMeters.CONNECTIONS.name(), connections, AtomicInteger::get)
                .description(FerryMeters.CONNECTIONS.description()).register(registry);
        for (StoredSnapshot.State state : StoredSnapshot.State.values()) {
            Gauge.builder(FerryMeters.SNAPSHOTS_HELD.name(), store, s -> s.list().stream().filter(x -> x.state() == state).count())
                    .description(FerryMeters.SNAPSHOTS_HELD.description())
                    .tag(FerryMeters.TAG_STATE, state.name().toLowerCase(Locale.ROOT)).register(registry);
        }
        for (String outcome : new String[] {FerryMeters.OUTCOME_COMMITTED, FerryMeters.OUTCOME_ABORTED,
                FerryMeters.OUTCOME_REFUSED, FerryMeters.OUTCOME_BAD, FerryMeters.OUTCOME_RESTORED,
                FerryMeters.OUTCOME_RESTORE_FAILED}) {
            snapshots(outcome); // every outcome shows from the start, at 0
        }
    }

    private <T> void gauge(FerryMeters.Meter meter, T target, java.util.function.ToDoubleFunction<T> value) {
        Gauge.builder(meter.name(), target, value).description(meter.description()).baseUnit(meter.unit()).register(registry);
    }

    private Counter.Builder counter(FerryMeters.Meter meter) {
        Counter.Builder b = Counter.builder(meter.name()).description(meter.description());
        return meter.unit() == null ? b : b.baseUnit(meter.unit());
    }

    private Counter snapshots(String outcome) {
        return counter(FerryMeters.SNAPSHOTS).tag(FerryMeters.TAG_OUTCOME, outcome).register(registry);
    }

    private void timer(FerryMeters.Meter meter, String outcome, Duration d) {
        Timer.builder(meter.name()).description(meter.description()).tag(FerryMeters.TAG_OUTCOME, outcome)
                .register(registry).record(d.isNegative() ? Duration.ZERO : d);
    }

    private boolean bound() {
        return registry != null;
    }

    @Override
    public void bytesReceived(long bytes) {
        Counter c = received;
        if (c != null) {
            c.increment(bytes);
        }
    }

    @Override
    public void imageReceived(ImageName name) {
        if (bound()) {
            counter(FerryMeters.IMAGES_RECEIVED).tag(FerryMeters.TAG_IMAGE_KIND, FerryMeters.imageKind(name.value()))
                    .register(registry).increment();
        }
    }

    @Override
    public void snapshotCommitted(StoredSnapshot snapshot) {
        if (bound()) {
            snapshots(FerryMeters.OUTCOME_COMMITTED).increment();
            timer(FerryMeters.RECEIVE_DURATION, FerryMeters.OUTCOME_COMMITTED, since(snapshot));
        }
    }

    @Override
    public void snapshotDropped(StoredSnapshot snapshot, String why) {
        if (bound()) {
            String outcome = "bad".equals(why) ? FerryMeters.OUTCOME_BAD : FerryMeters.OUTCOME_ABORTED;
            snapshots(outcome).increment();
            timer(FerryMeters.RECEIVE_DURATION, outcome, since(snapshot));
        }
    }

    private static Duration since(StoredSnapshot snapshot) {
        return Duration.between(snapshot.created(), Instant.now());
    }

    @Override
    public void snapshotRefused(ErrorCode code) {
        if (bound()) {
            snapshots(FerryMeters.OUTCOME_REFUSED).increment();
        }
    }

    @Override
    public void error(ErrorCode code) {
        if (bound()) {
            counter(FerryMeters.ERRORS).tag(FerryMeters.TAG_CODE, code.name()).register(registry).increment();
        }
    }

    @Override
    public void connectionOpened() {
        connections.incrementAndGet();
    }

    @Override
    public void connectionClosed() {
        connections.decrementAndGet();
    }

    @Override
    public void lazyBytesReceived(long bytes) {
        if (registry != null) {
            counter(FerryMeters.LAZY_RECEIVED).register(registry).increment(bytes);
        }
    }

    @Override
    public void lazyFaults(long faults) {
        if (registry != null) {
            counter(FerryMeters.LAZY_FAULTS).register(registry).increment(faults);
        }
    }

    @Override
    public void imageServed(ImageName name, long bytes) {
        Counter c = served;
        if (c != null) {
            c.increment(bytes);
            counter(FerryMeters.IMAGES_SERVED).tag(FerryMeters.TAG_IMAGE_KIND, FerryMeters.imageKind(name.value()))
                    .register(registry).increment();
        }
    }

    @Override
    public void restoreFinished(boolean ok, Duration duration) {
        if (bound()) {
            String outcome = ok ? FerryMeters.OUTCOME_RESTORED : FerryMeters.OUTCOME_RESTORE_FAILED;
            snapshots(outcome).increment();
            timer(FerryMeters.RESTORE_DURATION, outcome, duration);
        }
    }
}
