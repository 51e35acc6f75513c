package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Flags, names and missing daemons give the documented exit codes and messages that say what to do. */
class CommandLineTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void unknownOptionIsUsageError() {
        assertEquals(ExitCode.USAGE.code(), run("dump", "-t", "1", "-D", "x", "--remote", "--frobnicate"));
        assertTrue(err.toString().contains("--frobnicate"), err.toString());
    }

    @Test
    void dumpWithoutRemoteIsUsageError() {
        assertEquals(ExitCode.USAGE.code(), run("dump", "-t", "1", "-D", "x"));
        assertTrue(err.toString().contains("--remote"), err.toString());
    }

    @Test
    void snapshotNamesThatEscapeAreRefused() {
        for (String bad : new String[] {"../x", "a/b", "", "x".repeat(10_000)}) {
            err.getBuffer().setLength(0);
            assertEquals(ExitCode.USAGE.code(), run("dump", "-t", "1", "-D", bad, "--remote", "--run-dir", dir.toString()));
            assertTrue(err.toString().contains("snapshot name"), err.toString());
            assertTrue(err.toString().contains("expected"), err.toString());
        }
    }

    @Test
    void missingDaemonSaysWhereItLookedAndWhatToStart() {
        assertEquals(ExitCode.DAEMON_UNREACHABLE.code(), run("dump", "-t", "1", "-D", "web1", "--remote", "--run-dir", dir.toString()));
        assertTrue(err.toString().contains(dir.resolve("proxy.sock").toString()), err.toString());
        assertTrue(err.toString().contains("ferry image-proxy"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(ExitCode.DAEMON_UNREACHABLE.code(), run("restore", "-D", "web1", "--remote", "--run-dir", dir.toString()));
        assertTrue(err.toString().contains("image-cache"), err.toString());
    }

    @Test
    void missingCriuExitsWithCriuMissingAndNamesThePath() {
        assertEquals(ExitCode.CRIU_MISSING.code(), run("image-proxy", "--address", "127.0.0.1", "--port", "1",
                "--run-dir", dir.toString(), "--criu", "/nonexistent/criu"));
        assertTrue(err.toString().contains("/nonexistent/criu"), err.toString());
        assertTrue(err.toString().contains("install-criu"), err.toString());
    }

    @Test
    void unknownControlGroupIsUsageErrorForBothDaemons() {
        assertEquals(ExitCode.USAGE.code(), run("image-cache", "--port", "0", "--run-dir", dir.toString(),
                "--control-group", "no-such-group-ferry"));
        assertTrue(err.toString().contains("--control-group"), err.toString());
        assertTrue(err.toString().contains("no-such-group-ferry"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(ExitCode.USAGE.code(), run("image-proxy", "--address", "127.0.0.1", "--port", "1",
                "--run-dir", dir.toString(), "--control-group", "no-such-group-ferry"));
        assertTrue(err.toString().contains("no-such-group-ferry"), err.toString());
    }

    @Test
    void imagesVerifyWithoutCacheSaysWhatToStart() {
        assertEquals(ExitCode.DAEMON_UNREACHABLE.code(), run("images", "verify", "web1", "--run-dir", dir.toString()));
        assertTrue(err.toString().contains(dir.resolve("cache.sock").toString()), err.toString());
        assertTrue(err.toString().contains("ferry image-cache"), err.toString());
    }
}
