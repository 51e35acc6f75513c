package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.Json;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.HostCommand;
import dev.ferry.cli.lab.PrometheusText;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real dump and restore with CRIU between two network-namespace nodes, watched the way an operator would: the
 * daemons' {@code /metrics} (scraped with curl inside each node) move by exactly the figures of the results,
 * {@code --json} carries ferry's and CRIU's figures, {@code ferry images show} describes the process dumped, and
 * both logs have one line per phase naming the snapshot.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ObservabilityIT {

    private static final int CACHE_METRICS = 9464;
    private static final int PROXY_METRICS = 9465;
    private static final int SIZE_MIB = 48;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(21, LabExtension.Daemons.NONE, true);

    @BeforeAll
    static void startDaemonsWithMetrics() throws Exception {
        LAB.fx().daemons().cacheOptions("--metrics-port", Integer.toString(CACHE_METRICS))
                .proxyOptions("--metrics-port", Integer.toString(PROXY_METRICS)).start();
        assertTrue(LAB.fx().daemons().cacheReadyLine().orElse("").endsWith(" metrics 127.0.0.1:" + CACHE_METRICS),
                "cache ready line: " + LAB.fx().daemons().cacheReadyLine());
        assertTrue(LAB.fx().daemons().proxyReadyLine().orElse("").endsWith(" metrics 127.0.0.1:" + PROXY_METRICS),
                "proxy ready line: " + LAB.fx().daemons().proxyReadyLine());
    }

    private static Map<String, Double> scrape(String ns, int port) throws IOException {
        HostCommand.Result r = HostCommand.exec(LAB.fx().lab().inNode(ns, List.of("curl", "-sS", "--fail",
                "--max-time", "5", "http://127.0.0.1:" + port + "/metrics")), Duration.ofSeconds(10));
        assertTrue(r.ok(), () -> "scraping " + ns + ":" + port + " failed: " + r.describe());
        return PrometheusText.samples(r.output());
    }

    private static Map<String, Double> proxyMetrics() throws IOException {
        return scrape(LAB.fx().lab().sourceNs(), PROXY_METRICS);
    }

    private static Map<String, Double> cacheMetrics() throws IOException {
        return scrape(LAB.fx().lab().targetNs(), CACHE_METRICS);
    }

    private static double value(Map<String, Double> m, String series) {
        Double v = m.get(series);
        if (v == null) {
            throw new AssertionError("no series " + series + " in the scrape; ferry series: "
                    + m.keySet().stream().filter(k -> k.startsWith("ferry_")).toList());
        }
        return v;
    }

    private static double delta(Map<String, Double> after, Map<String, Double> before, String series) {
        return value(after, series) - before.getOrDefault(series, 0.0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(FerryResult r) {
        List<String> lines = r.stdout().lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), () -> "--json printed " + lines.size() + " lines on stdout\n" + r.describe());
        return (Map<String, Object>) Json.parse(lines.get(0));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        assertTrue(v instanceof Long, () -> key + " = " + v + " in " + m);
        return (Long) v;
    }

    @Test
    @Order(1)
    @SuppressWarnings("unchecked")
    void dumpAndRestoreMoveTheMetricsByTheirResultsFigures() throws Exception {
        Path script = LAB.fx().script("memhold.py");
        ChecksumLog sums = new ChecksumLog(LAB.fx().path("obs.sha"), LAB.fx().path("obs.sums.log"));
        Workload source = LAB.fx().startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                LAB.fx().path("obs.sha").toString(), sums.log().toString(), "0.5"), LAB.fx().path("obs.out.log"));
        assertTrue(sums.awaitFirstSha(Duration.ofSeconds(60)).isPresent(), () -> "memhold.py never started"
                + LAB.fx().diagnostics());
        Map<String, Double> proxyBefore = proxyMetrics();
        Map<String, Double> cacheBefore = cacheMetrics();
        assertEquals(0.0, value(proxyBefore, "ferry_snapshots_total{outcome=\"committed\",role=\"proxy\"}"));

        // scrape both daemons while the dump runs: the counters only ever grow
        FerryRun run = LAB.fx().startDump(source.pid(), "obs1", "--json");
        List<Double> sentSamples = new ArrayList<>();
        while (run.process().isAlive()) {
            sentSamples.add(value(proxyMetrics(), "ferry_image_sent_bytes_total{role=\"proxy\"}"));
            Thread.sleep(50);
        }
        FerryResult dump = run.await(LabFixture.CLIENT_TIMEOUT);
        assertEquals(0, dump.exitCode(), () -> "ferry dump failed\n" + dump.describe() + LAB.fx().diagnostics());
        for (int i = 1; i < sentSamples.size(); i++) {
            assertTrue(sentSamples.get(i) >= sentSamples.get(i - 1), "bytes sent went down: " + sentSamples);
        }

        Map<String, Object> d = json(dump);
        assertEquals(true, d.get("ok"));
        assertEquals(0L, d.get("exit_code"));
        assertEquals("dump", d.get("command"));
        assertEquals("obs1", d.get("snapshot"));
        assertEquals(source.pid(), num(d, "pid"));
        long bytes = num(d, "bytes");
        long images = num(d, "images");
        assertTrue(bytes >= (long) SIZE_MIB << 20, "dumped " + bytes + " bytes of a " + SIZE_MIB + " MiB process");
        assertTrue(num(d, "duration_ms") > 0 && num(d, "rate_bytes_per_s") > 0, d.toString());
        List<Object> phases = ((List<Object>) d.get("phases")).stream().map(p -> map(p).get("phase")).toList();
        for (String phase : List.of("connect", "criu", "capture", "post-dump", "commit", "committed")) {
            assertTrue(phases.contains(phase), "phase " + phase + " missing from " + phases);
        }
        Map<String, Object> criuDump = map(map(d.get("criu_stats")).get("dump"));
        assertTrue(num(criuDump, "frozen_time_us") > 0, "CRIU's frozen_time: " + criuDump);
        assertTrue(num(criuDump, "pages_written") * 4096 >= (long) SIZE_MIB << 20, "CRIU's pages_written: " + criuDump);
        assertTrue(dump.stderr().contains("ferry dump: connect"), () -> "no progress lines on stderr\n" + dump.describe());

        Map<String, Double> proxy = proxyMetrics();
        assertEquals(bytes, delta(proxy, proxyBefore, "ferry_image_sent_bytes_total{role=\"proxy\"}"));
        assertEquals(images, PrometheusText.sum(proxy, "ferry_images_sent_total")
                - PrometheusText.sum(proxyBefore, "ferry_images_sent_total"));
        assertTrue(value(proxy, "ferry_images_sent_total{image_kind=\"pages\",role=\"proxy\"}") >= 1);
        assertEquals(1.0, delta(proxy, proxyBefore, "ferry_snapshots_total{outcome=\"committed\",role=\"proxy\"}"));
        assertEquals(0.0, value(proxy, "ferry_snapshots_total{outcome=\"aborted\",role=\"proxy\"}"));
        assertEquals(1.0, value(proxy, "ferry_dump_duration_seconds_count{outcome=\"committed\",role=\"proxy\"}"));
        assertEquals(1.0, value(proxy, "ferry_dump_frozen_seconds_count{role=\"proxy\"}"));
        assertEquals(num(criuDump, "frozen_time_us") / 1e6, value(proxy, "ferry_dump_frozen_seconds_sum{role=\"proxy\"}"),
                1e-6);
        assertEquals(0.0, value(proxy, "ferry_connections_active{role=\"proxy\"}"));
        assertTrue(value(proxy, "jvm_threads_live_threads{role=\"proxy\"}") > 0);

        Map<String, Double> cache = cacheMetrics();
        assertEquals(bytes, delta(cache, cacheBefore, "ferry_image_received_bytes_total{role=\"cache\"}"));
        assertEquals(images, PrometheusText.sum(cache, "ferry_images_received_total")
                - PrometheusText.sum(cacheBefore, "ferry_images_received_total"));
        assertEquals(1.0, delta(cache, cacheBefore, "ferry_snapshots_total{outcome=\"committed\",role=\"cache\"}"));
        assertEquals(1.0, value(cache, "ferry_cache_snapshots{role=\"cache\",state=\"committed\"}"));
        double used = value(cache, "ferry_cache_memory_used_bytes{role=\"cache\"}");
        assertTrue(used >= bytes, "cache memory used " + used + " < " + bytes + " bytes held");
        assertEquals(value(cache, "ferry_cache_memory_limit_bytes{role=\"cache\"}") - used,
                value(cache, "ferry_cache_memory_free_bytes{role=\"cache\"}"));

        // what the cache holds, from the images themselves
        FerryResult show = LAB.fx().ferry(LAB.fx().lab().targetNs(), List.of("images", "show", "obs1", "--json",
                "--run-dir", LAB.fx().daemons().targetRunDir().toString()));
        assertEquals(0, show.exitCode(), show::describe);
        Map<String, Object> s = json(show);
        List<Map<String, Object>> processes = ((List<Object>) s.get("processes")).stream().map(ObservabilityIT::map).toList();
        assertEquals(1, processes.size(), "memhold.py is one process: " + processes);
        Map<String, Object> root = processes.get(0);
        assertEquals(1L, root.get("pid"), "the namespace's init");
        assertEquals("python3", root.get("comm"));
        assertEquals("alive", root.get("state"));
        assertTrue(num(root, "memory_bytes") >= (long) SIZE_MIB << 20, root.toString());
        assertEquals(num(root, "memory_bytes"), num(s, "pages_bytes"), "one process: its pages are all the pages");

        assertTrue(ProcFs.awaitGone(source.pid(), 5_000), "source still runs after the dump");
        Path pidfile = LAB.fx().path("obs.pid");
        FerryResult restore = LAB.fx().restore("obs1", pidfile, "--json");
        assertEquals(0, restore.exitCode(), () -> "ferry restore failed\n" + restore.describe() + LAB.fx().diagnostics());
        long restored = LAB.fx().restoredPid(pidfile);
        Map<String, Object> r = json(restore);
        assertEquals(restored, num(r, "pid"));
        long served = num(r, "bytes");
        long servedImages = num(r, "images");
        assertEquals(bytes, served, "every image dumped was served");
        Map<String, Object> criuRestore = map(map(r.get("criu_stats")).get("restore"));
        assertTrue(num(criuRestore, "restore_time_us") > 0, criuRestore.toString());
        assertTrue(((List<Object>) r.get("phases")).stream().map(p -> map(p).get("phase")).toList().contains("serve"),
                r.toString());

        Map<String, Double> afterRestore = cacheMetrics();
        assertEquals(served, delta(afterRestore, cacheBefore, "ferry_image_served_bytes_total{role=\"cache\"}"));
        assertEquals(servedImages, PrometheusText.sum(afterRestore, "ferry_images_served_total")
                - PrometheusText.sum(cacheBefore, "ferry_images_served_total"));
        assertEquals(1.0, value(afterRestore, "ferry_snapshots_total{outcome=\"restored\",role=\"cache\"}"));
        assertEquals(1.0, value(afterRestore, "ferry_restore_duration_seconds_count{outcome=\"restored\",role=\"cache\"}"));
        assertEquals(0.0, value(afterRestore, "ferry_cache_memory_used_bytes{role=\"cache\"}"),
                "a restored snapshot is dropped and its memory freed");
        // its large chunks (4 MiB each; an image's first 4 MiB are in smaller ones) are kept for the next snapshot,
        // with those the cache prefaulted for what it reserved at SNAPSHOT_BEGIN (the size the dump announced, the
        // tree's RSS, plus SnapshotMemory's margin of 8 MiB + 1/64) and it did not use
        double idle = value(afterRestore, "ferry_cache_memory_idle_bytes{role=\"cache\"}");
        long announced = announcedBytes("obs1");
        long reserved = announced + (8L << 20) + announced / 64;
        long chunk = 4 << 20;
        long most = (Math.max(bytes, reserved) + chunk - 1) / chunk * chunk;
        assertTrue(idle >= bytes / 2 && idle <= most && idle % chunk == 0, "idle image memory " + idle
                + " after dropping a snapshot of " + bytes + " bytes, announced as about " + announced
                + ", reserved " + reserved + " (expected: its 4 MiB chunks and the prefaulted ones, at most " + most + ")");
        assertTrue(ProcFs.isRunning(restored));

        // one INFO line per phase, in both logs, naming the snapshot
        String proxyLog = Files.readString(LAB.fx().daemons().proxyLog());
        for (String line : List.of("connected to the image-cache", "accepted by the image-cache", "dump of pid",
                "obs1: criu", "obs1: capture", "obs1: post-dump", "obs1: commit", "obs1: committed", "dump done")) {
            assertTrue(proxyLog.contains("snapshot obs1: " + line.replace("obs1: ", "")), "proxy log lacks '" + line
                    + "':\n" + proxyLog);
        }
        assertTrue(proxyLog.contains("CRIU kept the source frozen for"), proxyLog);
        String cacheLog = Files.readString(LAB.fx().daemons().cacheLog());
        for (String line : List.of("receiving from", "committed, ", "restore starting", "restore criu", "restore serve",
                "restored, pid " + restored)) {
            assertTrue(cacheLog.contains("snapshot obs1: " + line), "cache log lacks '" + line + "':\n" + cacheLog);
        }
    }

    @Test
    @Order(2)
    void aNameTakenIsRefusedOnBothSidesAndRmFreesIt() throws Exception {
        Workload source = LAB.fx().startWorkload(dev.ferry.cli.lab.CounterLoop.command(LAB.fx().path("obs2.counter")),
                LAB.fx().path("obs2.out.log"));
        dev.ferry.cli.lab.CounterLoop.awaitAtLeast(LAB.fx().path("obs2.counter"), 3, Duration.ofSeconds(10));
        Map<String, Double> proxyBefore = proxyMetrics();
        Map<String, Double> cacheBefore = cacheMetrics();

        FerryResult first = LAB.fx().dump(source.pid(), "obs2", "--leave-running");
        assertEquals(0, first.exitCode(), () -> first.describe() + LAB.fx().diagnostics());
        FerryResult again = LAB.fx().dump(source.pid(), "obs2", "--leave-running", "--json");
        assertEquals(7, again.exitCode(), again::describe);
        Map<String, Object> j = json(again);
        assertEquals(false, j.get("ok"));
        assertTrue(String.valueOf(j.get("message")).contains("already exists"), j.toString());
        assertTrue(ProcFs.isRunning(source.pid()), "a refused dump never touches the source");

        Map<String, Double> proxy = proxyMetrics();
        assertEquals(1.0, delta(proxy, proxyBefore, "ferry_snapshots_total{outcome=\"committed\",role=\"proxy\"}"));
        assertEquals(1.0, delta(proxy, proxyBefore, "ferry_snapshots_total{outcome=\"refused\",role=\"proxy\"}"));
        assertEquals(1.0, value(proxy, "ferry_errors_total{code=\"SNAPSHOT_EXISTS\",role=\"proxy\"}"));
        Map<String, Double> cache = cacheMetrics();
        assertEquals(1.0, delta(cache, cacheBefore, "ferry_snapshots_total{outcome=\"refused\",role=\"cache\"}"));
        assertEquals(1.0, value(cache, "ferry_errors_total{code=\"SNAPSHOT_EXISTS\",role=\"cache\"}"));
        assertTrue(value(cache, "ferry_cache_memory_used_bytes{role=\"cache\"}") > 0);

        String runDir = LAB.fx().daemons().targetRunDir().toString();
        FerryResult rm = LAB.fx().ferry(LAB.fx().lab().targetNs(), List.of("images", "rm", "obs2", "--run-dir", runDir));
        assertEquals(0, rm.exitCode(), rm::describe);
        assertTrue(rm.stdout().contains("removed snapshot obs2"), rm.describe());
        assertEquals(0.0, value(cacheMetrics(), "ferry_cache_memory_used_bytes{role=\"cache\"}"));
        FerryResult ls = LAB.fx().ferry(LAB.fx().lab().targetNs(), List.of("images", "ls", "--run-dir", runDir));
        assertTrue(ls.stdout().contains("no snapshots held"), ls.describe());
        assertTrue(Files.readString(LAB.fx().daemons().cacheLog()).contains("snapshot obs2: removed"),
                "the cache logs the removal");
    }

    /** The size the proxy announced for {@code snapshot} (SNAPSHOT_BEGIN), from the cache's "receiving" log line. */
    private static long announcedBytes(String snapshot) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("snapshot " + snapshot
                + ": receiving from .*about (\\d+) bytes").matcher(Files.readString(LAB.fx().daemons().cacheLog()));
        assertTrue(m.find(), "no 'snapshot " + snapshot + ": receiving from ... about N bytes' in the cache log");
        return Long.parseLong(m.group(1));
    }
}
