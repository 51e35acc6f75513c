package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.control.CriuDumpStats;
import dev.ferry.protocol.control.CriuStats;
import dev.ferry.protocol.control.Progress;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** What dump and restore show while they run, on a terminal and off one, against a clock the test moves. */
class ProgressRendererTest {

    private static final long SECOND = 1_000_000_000L;
    private static final long MIB = 1 << 20;

    private final StringWriter err = new StringWriter();
    private final AtomicLong now = new AtomicLong(100 * SECOND);

    private ProgressRenderer renderer(ProgressRenderer.Mode mode) {
        return new ProgressRenderer(new PrintWriter(err, true), "ferry dump", mode, now::get);
    }

    private static Progress progress(String phase, long bytes, int images, long expected) {
        return Progress.newBuilder().setPhase(phase).setBytes(bytes).setImages(images).setExpectedBytes(expected).build();
    }

    @Test
    void terminalRedrawsOneLineWithBarRateAndEta() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.TTY);
        r.accept(progress("connect", 0, 0, 0));
        now.addAndGet(SECOND / 10);
        r.accept(progress("capture", 0, 0, 100 * MIB));
        now.addAndGet(SECOND);
        r.accept(progress("stream", 25 * MIB, 3, 100 * MIB));
        String line = err.toString().substring(err.toString().lastIndexOf('\r') + 1);
        assertEquals("ferry dump: stream [######------------------]  25% 25.0 MiB of ~100 MiB, 25.0 MiB/s, 3 images,"
                + " ETA 3s", line.stripTrailing());
        now.addAndGet(SECOND);
        r.accept(progress("stream", 50 * MIB, 7, 100 * MIB));
        String second = err.toString().substring(err.toString().lastIndexOf('\r') + 1).stripTrailing();
        assertTrue(second.contains("[############------------]  50%") && second.contains("ETA 2s"), second);
        assertFalse(err.toString().contains("\n"), "no newline while the line is redrawn");
        now.addAndGet(SECOND / 2);
        r.accept(progress("post-dump", 100 * MIB, 9, 100 * MIB));
        r.finish();
        assertTrue(err.toString().endsWith("\n"), "the line is ended once the result is there");
        assertEquals(List.of(new ProgressRenderer.Phase("connect", 100), new ProgressRenderer.Phase("capture", 1000),
                new ProgressRenderer.Phase("stream", 1500), new ProgressRenderer.Phase("post-dump", 0)), r.phases());
    }

    @Test
    void noEtaFromTheFirstFewBytes() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.TTY);
        r.accept(progress("capture", 0, 0, 0));
        now.addAndGet(SECOND / 5);
        r.accept(progress("stream", 44, 1, 1024 * MIB)); // CRIU's inventory: nothing to judge the rate by
        String line = err.toString().substring(err.toString().lastIndexOf('\r') + 1).stripTrailing();
        assertFalse(line.contains("ETA"), line);
    }

    @Test
    void onceEverythingIsSentTheBarIsFullAndTheRateStops() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.TTY);
        r.accept(progress("capture", 0, 0, 0));
        now.addAndGet(SECOND);
        r.accept(progress("stream", 4 * MIB, 3, 10 * MIB)); // the estimate from the source's memory was high
        r.accept(progress("commit", 4 * MIB, 13, 10 * MIB));
        now.addAndGet(SECOND); // the target restores: the rate must not fall meanwhile
        r.accept(progress("restore", 4 * MIB, 13, 10 * MIB));
        String line = err.toString().substring(err.toString().lastIndexOf('\r') + 1).stripTrailing();
        assertEquals("ferry dump: restore [########################] 100% 4.0 MiB, 4.0 MiB/s, 13 images", line);
    }

    @Test
    void aShorterLineBlanksTheRestOfTheLongerOne() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.TTY);
        r.accept(progress("stream", 5 * MIB, 1, 10 * MIB));
        int first = err.toString().length() - 1;
        r.accept(progress("commit", 0, 0, 0));
        String last = err.toString().substring(err.toString().lastIndexOf('\r') + 1);
        assertEquals(first, last.length(), "padded to the longer line's width: " + last);
    }

    @Test
    void plainLinesAtPhaseChangesAndEveryFewSeconds() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.PLAIN);
        r.accept(progress("connect", 0, 0, 0));
        r.accept(progress("capture", 0, 0, 0));
        now.addAndGet(SECOND);
        r.accept(progress("stream", 1 * MIB, 1, 0));
        now.addAndGet(SECOND);
        r.accept(progress("stream", 2 * MIB, 2, 0)); // within 5 s of the last line: not printed
        now.addAndGet(5 * SECOND);
        r.accept(progress("stream", 7 * MIB, 4, 0));
        r.finish();
        List<String> lines = err.toString().lines().toList();
        assertEquals(List.of("ferry dump: connect", "ferry dump: capture",
                "ferry dump: stream 1.0 MiB, 1.0 MiB/s, 1 image",
                "ferry dump: stream 7.0 MiB, 1.0 MiB/s, 4 images"), lines);
        assertFalse(err.toString().contains("\r"));
    }

    @Test
    void quietShowsNothingButStillTimesPhases() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.QUIET);
        r.accept(progress("restore", 0, 0, 0));
        now.addAndGet(2 * SECOND);
        r.finish();
        assertEquals("", err.toString());
        assertEquals(List.of(new ProgressRenderer.Phase("restore", 2000)), r.phases());
    }

    @Test
    void etaFormats() {
        assertEquals("59s", ProgressRenderer.duration(59));
        assertEquals("2m05s", ProgressRenderer.duration(125));
        assertEquals("1h01m", ProgressRenderer.duration(3660));
    }

    @Test
    @SuppressWarnings("unchecked")
    void jsonResultCarriesFerrysFiguresPhasesAndCriusStatistics() {
        StringWriter out = new StringWriter();
        ClientOutput output = new ClientOutput(new PrintWriter(out, true), new PrintWriter(err, true), "ferry dump",
                ProgressRenderer.Mode.QUIET);
        output.progress(progress("connect", 0, 0, 0));
        output.progress(progress("stream", 3000, 2, 4000));
        output.renderer().finish();
        Result r = Results.success("dumped").setBytes(300_000).setImages(12).setDurationMillis(150)
                .setCriuLogPath("/run/ferry/proxy-work/d-1/dump.log")
                .setCriuStats(CriuStats.newBuilder().setDump(CriuDumpStats.newBuilder().setFrozenTimeUs(20419)
                        .setPagesWritten(92))).build();
        assertEquals(0, output.json(r, output.transferJson(r, "web1", 4242)));
        assertEquals(1, out.toString().lines().count(), "exactly one line: " + out);
        Map<String, Object> j = (Map<String, Object>) Json.parse(out.toString());
        assertEquals(true, j.get("ok"));
        assertEquals(0L, j.get("exit_code"));
        assertEquals("dump", j.get("command"));
        assertEquals("web1", j.get("snapshot"));
        assertEquals(4242L, j.get("pid"));
        assertEquals(300_000L, j.get("bytes"));
        assertEquals(12L, j.get("images"));
        assertEquals(150L, j.get("duration_ms"));
        assertEquals(2_000_000L, j.get("rate_bytes_per_s"));
        List<Map<String, Object>> phases = (List<Map<String, Object>>) j.get("phases");
        assertEquals(List.of("connect", "stream"), phases.stream().map(p -> p.get("phase")).toList());
        Map<String, Object> dump = (Map<String, Object>) ((Map<String, Object>) j.get("criu_stats")).get("dump");
        assertEquals(20419L, dump.get("frozen_time_us"));
        assertEquals(92L, dump.get("pages_written"));
        assertEquals(0L, dump.get("freezing_time_us"), "zero figures are printed, not left out");
    }

    @Test
    void aProxyLostDuringPostCopyIsReportedAsTheLossItIs_beforeItTheGenericMessageStands() {
        Result lost = Results.failure(dev.ferry.protocol.ExitCode.DAEMON_UNREACHABLE, "the image-proxy at /run/p.sock"
                + " closed the control connection without a result (it stopped or died); see its log. A dump it was"
                + " running fails without it, and CRIU then resumes the source on its own: check the process");
        ClientOutput before = new ClientOutput(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
                "ferry migrate", ProgressRenderer.Mode.QUIET);
        before.progress(progress("commit", 1000, 12, 1000));
        assertEquals(lost, before.explainLostProxyInPostCopy(lost), "no post-copy yet: CRIU does resume the source");

        ClientOutput during = new ClientOutput(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
                "ferry migrate", ProgressRenderer.Mode.QUIET);
        during.progress(progress("commit", 1000, 12, 1000));
        during.progress(progress("post-copy", 1000, 12, 1000));
        Result explained = during.explainLostProxyInPostCopy(lost);
        assertEquals(lost.getExitCode(), explained.getExitCode());
        assertTrue(explained.getMessage().startsWith("post-copy failed") && explained.getMessage().contains("cannot go on")
                && !explained.getMessage().contains("resumes the source"), explained.getMessage());
        Result ok = Results.success("migrated").build();
        assertEquals(ok, during.explainLostProxyInPostCopy(ok));
    }

    @Test
    void jsonOfAFailureIsStillOneObjectAndTheErrorGoesToStderr() {
        StringWriter out = new StringWriter();
        ClientOutput output = new ClientOutput(new PrintWriter(out, true), new PrintWriter(err, true), "ferry restore",
                ProgressRenderer.Mode.QUIET);
        Result r = Results.failure(dev.ferry.protocol.ExitCode.NOT_FOUND, "no committed snapshot \"x\"");
        assertEquals(9, output.json(r, output.transferJson(r, "x", 0)));
        Object parsed = Json.parse(out.toString().trim());
        assertEquals(false, ((Map<?, ?>) parsed).get("ok"));
        assertEquals("no committed snapshot \"x\"", ((Map<?, ?>) parsed).get("message"));
        assertTrue(err.toString().contains("ferry restore: error: no committed snapshot"), err.toString());
    }
}
