package dev.ferry.protocol.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * One daemon's metrics: a Prometheus registry whose every meter carries {@code role=<proxy|cache>}, the JVM
 * meters (memory, GC, threads, class loading, processor, uptime), Netty's allocator gauges, and the daemon's own
 * binder, served as Prometheus text at {@code GET /metrics} by the JDK's HTTP server on one daemon thread.
 *
 * <p>Ownership: owns the registry, the GC listener and the HTTP server; {@link #close()} stops the server and
 * closes the registry. The daemon starts it first and closes it last. Thread-safe.
 */
public final class DaemonMetrics implements AutoCloseable {

    public static final String PATH = "/metrics";
    /** Prometheus text exposition format 0.0.4, what {@link PrometheusMeterRegistry#scrape()} writes. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final Logger LOG = Logger.getLogger(DaemonMetrics.class.getName());

    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gc;
    private final HttpServer server;
    private final ExecutorService executor;
    private boolean closed;

    private DaemonMetrics(PrometheusMeterRegistry registry, JvmGcMetrics gc, HttpServer server, ExecutorService executor) {
        this.registry = registry;
        this.gc = gc;
        this.server = server;
        this.executor = executor;
    }

    /**
     * Builds the registry with the common meters and {@code binder}, then serves it on {@code config}'s address.
     *
     * @throws IOException naming the address and the option to change when it cannot listen
     */
    public static DaemonMetrics start(String role, MetricsConfig config, MeterBinder binder) throws IOException {
        if (!config.enabled()) {
            throw new IllegalArgumentException("metrics are off (no --metrics-port)");
        }
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags(FerryMeters.TAG_ROLE, role);
        JvmGcMetrics gc = new JvmGcMetrics();
        for (MeterBinder common : new MeterBinder[] {new JvmMemoryMetrics(), gc, new JvmThreadMetrics(),
                new ClassLoaderMetrics(), new ProcessorMetrics(), new UptimeMetrics(),
                new NettyAllocatorMetrics(ByteBufAllocator.DEFAULT), binder}) {
            common.bindTo(registry);
        }
        HttpServer server;
        InetSocketAddress address = null;
        try {
            address = new InetSocketAddress(config.address(), config.port());
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            gc.close();
            registry.close();
            throw new IOException("cannot serve metrics on " + (address == null ? config.listen() : address) + ": "
                    + e.getMessage() + " (expected: a free port on an address of this node); choose another"
                    + " --metrics-port or --metrics-listen", e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "ferry-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        DaemonMetrics metrics = new DaemonMetrics(registry, gc, server, executor);
        server.createContext("/", metrics::handle);
        server.start();
        LOG.info(() -> role + " metrics: http://" + metrics.address().getAddress().getHostAddress() + ":"
                + metrics.address().getPort() + PATH);
        return metrics;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!PATH.equals(exchange.getRequestURI().getPath())) {
                respond(exchange, 404, "text/plain; charset=utf-8", "not found (expected: GET " + PATH + ")\n", true);
            } else if (!"GET".equals(method) && !"HEAD".equals(method)) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                respond(exchange, 405, "text/plain; charset=utf-8", method + " (expected: GET or HEAD)\n", true);
            } else {
                respond(exchange, 200, CONTENT_TYPE, registry.scrape(), "GET".equals(method));
            }
        }
    }

    private static void respond(HttpExchange exchange, int status, String type, String text, boolean body)
            throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body ? bytes.length : -1);
        if (body) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** The registry the daemon's meters live in. */
    public MeterRegistry registry() {
        return registry;
    }

    /** What {@code GET /metrics} answers now. */
    public String scrape() {
        return registry.scrape();
    }

    /** The bound address (the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Stops serving, then closes the meters. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        server.stop(0);
        executor.shutdownNow();
        gc.close();
        registry.close();
    }
}
