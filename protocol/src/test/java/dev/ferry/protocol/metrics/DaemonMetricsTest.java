package dev.ferry.protocol.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import org.junit.jupiter.api.Test;

/** The /metrics endpoint both daemons serve, over real HTTP on loopback. */
class DaemonMetricsTest {

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(DaemonMetrics m, String path, String method) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + m.address().getPort() + path);
        return http.send(HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesPrometheusTextWithRoleJvmAndNettyMeters() throws Exception {
        ByteBuf held = ByteBufAllocator.DEFAULT.directBuffer(1 << 20);
        try (DaemonMetrics m = DaemonMetrics.start("cache", MetricsConfig.on("127.0.0.1", 0),
                r -> Counter.builder(FerryMeters.IMAGE_RECEIVED.name()).baseUnit("bytes").register(r).increment(1234))) {
            assertTrue(m.address().getPort() > 0);
            HttpResponse<String> r = get(m, DaemonMetrics.PATH, "GET");
            assertEquals(200, r.statusCode());
            assertEquals(DaemonMetrics.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElse(""));
            String body = r.body();
            assertTrue(body.contains("ferry_image_received_bytes_total{role=\"cache\"} 1234.0"), body);
            assertTrue(body.contains("jvm_memory_used_bytes{"), "JvmMemoryMetrics");
            assertTrue(body.contains("jvm_threads_live_threads{"), "JvmThreadMetrics");
            assertTrue(body.contains("jvm_classes_loaded_classes{"), "ClassLoaderMetrics");
            assertTrue(body.contains("system_cpu_count{"), "ProcessorMetrics");
            assertTrue(body.contains("process_uptime_seconds{"), "UptimeMetrics");
            String direct = body.lines().filter(l -> l.startsWith("ferry_netty_allocator_used_direct_bytes{")).findFirst()
                    .orElseThrow(() -> new AssertionError("no Netty direct memory gauge in\n" + body));
            assertTrue(Double.parseDouble(direct.substring(direct.lastIndexOf(' ') + 1)) >= 1 << 20, direct);
            assertTrue(body.contains("ferry_netty_allocator_used_heap_bytes{role=\"cache\"}"), body);
        } finally {
            held.release();
        }
    }

    @Test
    void answersOnlyGetAndHeadOnMetrics() throws Exception {
        try (DaemonMetrics m = DaemonMetrics.start("proxy", MetricsConfig.on("127.0.0.1", 0), r -> { })) {
            assertEquals(404, get(m, "/", "GET").statusCode());
            assertEquals(405, get(m, DaemonMetrics.PATH, "POST").statusCode());
            HttpResponse<String> head = get(m, DaemonMetrics.PATH, "HEAD");
            assertEquals(200, head.statusCode());
            assertEquals("", head.body());
        }
    }

    @Test
    void closeStopsServing() throws Exception {
        DaemonMetrics m = DaemonMetrics.start("proxy", MetricsConfig.on("127.0.0.1", 0), r -> { });
        int port = m.address().getPort();
        m.close();
        m.close(); // idempotent
        try (ServerSocket again = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertEquals(port, again.getLocalPort(), "the port is free again");
        }
    }

    @Test
    void aTakenPortNamesTheOptionToChange() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> DaemonMetrics.start("cache",
                    MetricsConfig.on("127.0.0.1", taken.getLocalPort()), r -> { }));
            assertTrue(e.getMessage().contains("--metrics-port"), e.getMessage());
        }
    }

    @Test
    void configRefusesBadPortsAndIsOffByDefault() {
        assertTrue(!MetricsConfig.OFF.enabled());
        assertThrows(IllegalArgumentException.class, () -> MetricsConfig.on("127.0.0.1", 70000));
        assertThrows(IllegalArgumentException.class, () -> MetricsConfig.on(" ", 9464));
        assertEquals("127.0.0.1", MetricsConfig.on(null, 9464).listen());
    }

    @Test
    void imageKindsAreBounded() {
        assertEquals("pages", FerryMeters.imageKind("pages-1.img"));
        assertEquals("pagemap", FerryMeters.imageKind("pagemap-shmem-3.img"));
        assertEquals("core", FerryMeters.imageKind("core-17.img"));
        assertEquals("inventory", FerryMeters.imageKind("inventory.img"));
        assertEquals("other", FerryMeters.imageKind("tcp-stream-abc.img"));
        assertEquals("other", FerryMeters.imageKind(null));
    }
}
