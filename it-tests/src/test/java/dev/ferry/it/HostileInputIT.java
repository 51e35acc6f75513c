package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.LogTail;
import dev.ferry.cli.lab.Workload;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlFraming;
import dev.ferry.protocol.control.DumpRequest;
import dev.ferry.protocol.control.Event;
import dev.ferry.protocol.control.Request;

import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * A real migration runs through the daemons while an authenticated but hostile peer throws malformed
 * frames at the image-cache and garbage at the image-proxy's control socket: every attack meets an error
 * or a closed connection, both daemons stay up, and the migration succeeds with its memory intact.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class HostileInputIT {

    private static final int SIZE_MIB = 128;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(17, LabExtension.Daemons.BOTH, true);

    @Test
    void migrationSucceedsWhileHostilePeersAreRefused_daemonsStayUp() throws Exception {
        Path script = LAB.fx().script("memhold.py");
        ChecksumLog sums = new ChecksumLog(LAB.fx().path("mem.sha"), LAB.fx().path("mem.sums.log"));
        Workload source = LAB.fx().startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(SIZE_MIB),
                LAB.fx().path("mem.sha").toString(), sums.log().toString(), "0.5"), LAB.fx().path("mem.out.log"));
        Optional<String> first = sums.awaitFirstSha(Duration.ofSeconds(60));
        assertTrue(first.isPresent(), () -> "memhold.py never wrote its checksum\n" + LAB.fx().diagnostics());

        // the hostile peer runs in the source node, with the source's valid client certificate
        Path attackLog = LAB.fx().path("hostile.log");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process attacker = LAB.fx().lab().track(LAB.fx().lab().inNode(LAB.fx().lab().sourceNs(), List.of(java, "-cp",
                        System.getProperty("java.class.path"), HostileClient.class.getName(), LAB.fx().lab().targetIp(),
                        Integer.toString(LAB.fx().daemons().port()), LAB.fx().daemons().pkiDir().toString(), "6"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(attackLog.toFile())
                .start());
        awaitLine(attackLog, "attacking", Duration.ofSeconds(30), attacker);

        FerryRun dump = LAB.fx().startDump(source.pid(), "underfire");
        List<String> controlAnswers = attackControlSocket(LAB.fx().daemons().sourceRunDir().resolve("proxy.sock"));
        FerryResult dumped = dump.await(LabFixture.CLIENT_TIMEOUT);
        assertTrue(attacker.waitFor(120, TimeUnit.SECONDS), "the hostile client did not finish");
        String attacks = Files.readString(attackLog);
        System.out.println("HostileInputIT attacks:\n" + attacks + "\ncontrol socket answers: " + controlAnswers);

        assertEquals(0, dumped.exitCode(), () -> "the migration failed under attack\n" + dumped.describe() + LAB.fx().diagnostics());
        assertEquals(0, attacker.exitValue(), () -> "an attack got no answer:\n" + attacks);
        assertTrue(attacks.contains("attack garbage: "), attacks);
        for (String expected : List.of("FRAME_TOO_LARGE", "UNKNOWN_FRAME_TYPE", "UNSUPPORTED_VERSION", "DUPLICATE_IMAGE",
                "INTEGRITY", "BAD_NAME")) {
            assertTrue(attacks.contains(expected), () -> "no " + expected + " answer in:\n" + attacks);
        }
        assertTrue(attacks.contains("attack data-for-unopened-image: error"), attacks);
        assertFalse(attacks.contains("FAILED"), attacks);
        assertTrue(LAB.fx().daemons().cacheAlive() && LAB.fx().daemons().proxyAlive(), "a daemon died under attack\n" + LAB.fx().diagnostics());
        assertEquals(List.of("usage", "usage"), controlAnswers, "the proxy's control socket answers bad requests with usage errors");

        Path pidfile = LAB.fx().path("mem.pid");
        FerryResult restore = LAB.fx().restore("underfire", pidfile);
        assertEquals(0, restore.exitCode(), () -> "ferry restore failed\n" + restore.describe() + LAB.fx().diagnostics());
        long restored = LAB.fx().restoredPid(pidfile);
        long before = sums.last().map(ChecksumLog.Entry::n).orElse(0L);
        assertTrue(sums.awaitEntry(before + 2, Duration.ofSeconds(30)).isPresent(),
                () -> "restored pid " + restored + " logs no checksums" + LAB.fx().diagnostics());
        assertTrue(sums.mismatches(first.get()).isEmpty(), "memory changed across the migration");
        String cacheLog = LogTail.of(LAB.fx().daemons().cacheLog(), 400);
        assertTrue(cacheLog.contains("WARNING"), "the cache logged none of the refusals");
    }

    /** Garbage and a request with an escaping name on the proxy's control socket; the answers' exit codes. */
    private static List<String> attackControlSocket(Path socket) throws Exception {
        List<String> answers = new ArrayList<>();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = Channels.newOutputStream(ch);
            out.write(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3});
            out.flush();
            answers.add(resultOf(Channels.newInputStream(ch)));
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ControlFraming.write(Channels.newOutputStream(ch), Request.newBuilder()
                    .setDump(DumpRequest.newBuilder().setPid(1).setSnapshot("../../etc/passwd")).build());
            answers.add(resultOf(Channels.newInputStream(ch)));
        }
        return answers;
    }

    private static String resultOf(InputStream in) throws Exception {
        while (true) {
            Event e = ControlFraming.read(in, Event.parser());
            if (e == null) {
                return "closed";
            }
            if (e.hasResult()) {
                return e.getResult().getExitCode() == ExitCode.USAGE.code() ? "usage" : "exit " + e.getResult().getExitCode();
            }
        }
    }

    private static void awaitLine(Path log, String text, Duration timeout, Process process) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log).contains(text)) {
                return;
            }
            if (!process.isAlive()) {
                throw new AssertionError("hostile client exited early:\n" + Files.readString(log));
            }
            Thread.sleep(20);
        }
        throw new AssertionError("hostile client never started:\n" + (Files.exists(log) ? Files.readString(log) : ""));
    }

}
