package dev.ferry.protocol.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;

/**
 * Gauges of the memory Netty's default allocator holds, direct and heap. Netty 4.2's default is the adaptive
 * allocator, not {@code PooledByteBufAllocator.DEFAULT}, so the gauges read whatever {@link ByteBufAllocator#DEFAULT}
 * is (both kinds report their usage through {@link ByteBufAllocatorMetricProvider}); channels allocate from it.
 */
final class NettyAllocatorMetrics implements MeterBinder {

    private final ByteBufAllocator allocator;

    NettyAllocatorMetrics(ByteBufAllocator allocator) {
        this.allocator = allocator;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        if (!(allocator instanceof ByteBufAllocatorMetricProvider provider)) {
            return;
        }
        ByteBufAllocatorMetric metric = provider.metric();
        Gauge.builder(FerryMeters.NETTY_DIRECT.name(), metric, ByteBufAllocatorMetric::usedDirectMemory)
                .description(FerryMeters.NETTY_DIRECT.description()).baseUnit(FerryMeters.NETTY_DIRECT.unit())
                .register(registry);
        Gauge.builder(FerryMeters.NETTY_HEAP.name(), metric, ByteBufAllocatorMetric::usedHeapMemory)
                .description(FerryMeters.NETTY_HEAP.description()).baseUnit(FerryMeters.NETTY_HEAP.unit())
                .register(registry);
    }
}
