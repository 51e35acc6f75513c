package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.cli.lab.PrometheusText;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.criu.CriuImageReader;
import dev.ferry.protocol.criu.CriuImages;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.metrics.MetricsConfig;
import dev.ferry.proxy.CacheLink;
import com.google.protobuf.MessageLite;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * {@code ferry images ls|show|rm [--json]} through the control socket of an in-process image-cache with metrics on,
 * holding a snapshot whose CRIU images are built with the generated protobuf classes and sent over loopback TCP by
 * the image-proxy's {@link CacheLink}; and the cache's {@code /metrics} as that happens.
 */
class ImagesShowRmMetricsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path runDir;

    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run: no restore here
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), null, null), MetricsConfig.on("127.0.0.1", 0));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        cache.close();
    }

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--run-dir", runDir.toString()));
        return cl.execute(all.toArray(String[]::new));
    }

    /** A CRIU protobuf image: common magic, type magic, then [u32 size][entry]... in host order. */
    private static byte[] image(int typeMagic, MessageLite... entries) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ByteBuffer head = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
        head.putInt(CriuImageReader.IMG_COMMON_MAGIC).putInt(typeMagic);
        b.writeBytes(head.array());
        for (MessageLite e : entries) {
            byte[] bytes = e.toByteArray();
            b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(bytes.length).array());
            b.writeBytes(bytes);
        }
        return b.toByteArray();
    }

    private static CriuImages.core_entry core(String comm) {
        return CriuImages.core_entry.newBuilder().setMtype(1)
                .setTc(CriuImages.task_core_entry.newBuilder().setTaskState(1).setComm(comm)).build();
    }

    /** nginx (pid 1, two threads) with one worker (pid 5); 3 + 2 present pages, one range in no image. */
    private static Map<String, byte[]> images() {
        Map<String, byte[]> images = new LinkedHashMap<>();
        images.put("pstree.img", image(CriuImageReader.PSTREE_MAGIC,
                CriuImages.pstree_entry.newBuilder().setPid(1).setPpid(0).setPgid(1).setSid(1).addThreads(1).addThreads(2).build(),
                CriuImages.pstree_entry.newBuilder().setPid(5).setPpid(1).setPgid(1).setSid(1).addThreads(5).build()));
        images.put("core-1.img", image(CriuImageReader.CORE_MAGIC, core("nginx")));
        images.put("core-2.img", image(CriuImageReader.CORE_MAGIC, CriuImages.core_entry.newBuilder().setMtype(1).build()));
        images.put("core-5.img", image(CriuImageReader.CORE_MAGIC, core("nginx-worker")));
        images.put("pagemap-1.img", image(CriuImageReader.PAGEMAP_MAGIC,
                CriuImages.pagemap_head.newBuilder().setPagesId(1).build(),
                CriuImages.pagemap_entry.newBuilder().setVaddr(0x400000).setCompatNrPages(0).setNrPages(3).setFlags(4).build(),
                CriuImages.pagemap_entry.newBuilder().setVaddr(0x800000).setCompatNrPages(0).setNrPages(9).setFlags(2).build()));
        images.put("pagemap-5.img", image(CriuImageReader.PAGEMAP_MAGIC,
                CriuImages.pagemap_head.newBuilder().setPagesId(2).build(),
                CriuImages.pagemap_entry.newBuilder().setVaddr(0x400000).setNrPages(2).setFlags(4).build()));
        images.put("pages-1.img", new byte[3 * 4096]);
        images.put("pages-2.img", new byte[2 * 4096]);
        return images;
    }

    /** Opens a link, sends and commits the snapshot, and hands the still-open link to {@code whileOpen}. */
    private long send(String snapshot, Map<String, byte[]> images, Runnable whileOpen) throws Exception {
        long total = 0;
        try (CacheLink link = CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(),
                "source", TIMEOUT)) {
            link.begin(SnapshotName.of(snapshot), 0, 1, TIMEOUT);
            List<ImageDigest> manifest = new ArrayList<>();
            for (Map.Entry<String, byte[]> e : images.entrySet()) {
                CRC32C c = new CRC32C();
                c.update(e.getValue());
                ImageOutput o = link.open(ImageName.of(e.getKey()));
                o.write(ByteBuffer.wrap(e.getValue()));
                o.finish(e.getValue().length, (int) c.getValue());
                manifest.add(new ImageDigest(ImageName.of(e.getKey()), e.getValue().length, (int) c.getValue()));
                total += e.getValue().length;
            }
            link.commit(manifest).get(10, TimeUnit.SECONDS);
            whileOpen.run();
        }
        return total;
    }

    private Map<String, Double> scrape() throws Exception {
        InetSocketAddress a = cache.metricsAddress().orElseThrow();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return PrometheusText.samples(r.body());
    }

    @Test
    @SuppressWarnings("unchecked")
    void showListsTheTreeAndRmFreesTheMemoryWhileMetricsFollow() throws Exception {
        Map<String, Double> before = scrape();
        assertEquals(0.0, before.get("ferry_image_received_bytes_total{role=\"cache\"}"));
        assertEquals(0.0, before.get("ferry_snapshots_total{outcome=\"committed\",role=\"cache\"}"));
        Map<String, Double>[] during = new Map[1];
        long bytes = send("web1", images(), () -> {
            try {
                during[0] = scrape();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertEquals(1.0, during[0].get("ferry_connections_active{role=\"cache\"}"), "one proxy connected");
        Map<String, Double> after = scrape();
        assertEquals((double) bytes, after.get("ferry_image_received_bytes_total{role=\"cache\"}"));
        assertEquals(8.0, after.entrySet().stream().filter(e -> e.getKey().startsWith("ferry_images_received_total{"))
                .mapToDouble(Map.Entry::getValue).sum());
        assertEquals(2.0, after.get("ferry_images_received_total{image_kind=\"pages\",role=\"cache\"}"));
        assertEquals(1.0, after.get("ferry_snapshots_total{outcome=\"committed\",role=\"cache\"}"));
        assertEquals(1.0, after.get("ferry_cache_snapshots{role=\"cache\",state=\"committed\"}"));
        assertEquals((double) cache.store().budget().used(), after.get("ferry_cache_memory_used_bytes{role=\"cache\"}"));
        assertTrue(after.get("ferry_cache_memory_used_bytes{role=\"cache\"}") >= bytes);

        assertEquals(0, run("images", "show", "web1"), err.toString());
        String text = out.toString();
        assertTrue(text.startsWith("snapshot web1: COMMITTED, 8 images, "), text);
        assertTrue(text.contains("pages: 20.0 KiB in 2 image(s)"), text);
        assertTrue(text.lines().anyMatch(l -> l.matches(" +1 +0 +1 +1 +2  alive +12.0 KiB  nginx")), text);
        assertTrue(text.lines().anyMatch(l -> l.matches(" +5 +1 +1 +1 +1  alive +8.0 KiB    nginx-worker")), text);

        assertEquals(0, run("images", "show", "web1", "--json"), err.toString());
        Map<String, Object> show = (Map<String, Object>) Json.parse(out.toString());
        assertEquals(true, show.get("ok"));
        assertEquals("web1", ((Map<String, Object>) show.get("snapshot")).get("name"));
        assertEquals(20480L, show.get("pages_bytes"));
        List<Map<String, Object>> ps = (List<Map<String, Object>>) show.get("processes");
        assertEquals(List.of(1L, 5L), ps.stream().map(p -> p.get("pid")).toList());
        assertEquals(List.of(1L, 2L), ps.get(0).get("threads"));
        assertEquals("nginx-worker", ps.get(1).get("comm"));
        assertEquals(12288L, ps.get(0).get("memory_bytes"));

        assertEquals(0, run("images", "ls", "--json"), err.toString());
        Map<String, Object> ls = (Map<String, Object>) Json.parse(out.toString());
        List<Map<String, Object>> held = (List<Map<String, Object>>) ls.get("snapshots");
        assertEquals(1, held.size());
        assertEquals("COMMITTED", held.get(0).get("state"));
        assertEquals(bytes, held.get(0).get("bytes"));

        long used = cache.store().budget().used();
        assertEquals(0, run("images", "rm", "web1", "--json"), err.toString());
        Map<String, Object> rm = (Map<String, Object>) Json.parse(out.toString());
        assertEquals(true, rm.get("ok"));
        assertEquals(used, rm.get("bytes_freed"));
        assertEquals(0.0, scrape().get("ferry_cache_memory_used_bytes{role=\"cache\"}"));
        assertEquals(0.0, scrape().get("ferry_cache_snapshots{role=\"cache\",state=\"committed\"}"));

        assertEquals(ExitCode.NOT_FOUND.code(), run("images", "rm", "web1"));
        assertTrue(err.toString().contains("no snapshot web1 in this image-cache (holds: nothing)"), err.toString());
        assertEquals(ExitCode.NOT_FOUND.code(), run("images", "show", "web1", "--json"));
        Map<String, Object> missing = (Map<String, Object>) Json.parse(out.toString());
        assertEquals(9L, missing.get("exit_code"));
    }

    @Test
    void aRefusedSnapshotIsCountedWithItsErrorCode() throws Exception {
        send("db7", images(), () -> { });
        try (CacheLink link = CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(),
                "source", TIMEOUT)) {
            try {
                link.begin(SnapshotName.of("db7"), 0, 1, TIMEOUT);
                throw new AssertionError("a second db7 was accepted");
            } catch (java.io.IOException expected) {
                assertTrue(expected.getMessage().contains("SNAPSHOT_EXISTS"), expected.getMessage());
            }
        }
        Map<String, Double> m = scrape();
        assertEquals(1.0, m.get("ferry_snapshots_total{outcome=\"refused\",role=\"cache\"}"));
        assertEquals(1.0, m.get("ferry_errors_total{code=\"SNAPSHOT_EXISTS\",role=\"cache\"}"));
    }
}
