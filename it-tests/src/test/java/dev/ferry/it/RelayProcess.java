package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryDaemons;
import dev.ferry.cli.lab.FerryJar;
import dev.ferry.cli.lab.LogTail;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A relay JVM ({@link BitFlipRelay}, {@link LinkFaultRelay}) an IT runs in a lab node between the image-proxy and the
 * image-cache: it listens on 127.0.0.1 in that node and dials the cache on the target node's address. Its log and its
 * output (stdout and stderr) go to the fixture's directory.
 *
 * <p>The IT that starts a relay owns it and stops it after each test ({@link #stop}); the lab tracks the process as
 * well, so that it dies with the lab whatever happens to the test.
 */
final class RelayProcess {

    /** How long a relay JVM may take to bind and log its {@code listening} line. */
    private static final long LISTENING_WITHIN_SECONDS = 15;
    /** How long {@link #stop} waits after SIGTERM, and again after SIGKILL. */
    private static final long STOP_WAIT_SECONDS = 5;

    private final String name;
    private final Process process;
    private final Path log;
    private final Path out;

    private RelayProcess(String name, Process process, Path log, Path out) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.out = out;
    }

    /**
     * Starts {@code relay} in node {@code ns}, listening on 127.0.0.1:{@code port} and relaying to the image-cache's
     * address in {@code mode}, logging to {@code fx.path(logName)} (its output to the same name plus {@code .out}) and
     * exiting on its own after {@code timeoutSeconds}; waits for its {@code listening} line. Fails with the relay's
     * output, after stopping it, when it exits or prints no such line within {@value #LISTENING_WITHIN_SECONDS} s.
     */
    static RelayProcess start(LabFixture fx, String ns, Class<? extends TcpRelay> relay, int port, String mode,
            String logName, long timeoutSeconds) throws IOException, InterruptedException, URISyntaxException {
        Path log = fx.path(logName);
        Path out = fx.path(logName + ".out");
        Path classes = Path.of(relay.getProtectionDomain().getCodeSource().getLocation().toURI());
        ProcessBuilder builder = fx.lab().inNode(ns, List.of(FerryJar.currentJava().toString(), "-XX:+UseSerialGC",
                        "-cp", classes.toString(), relay.getName(), "127.0.0.1", Integer.toString(port),
                        fx.lab().targetIp(), Integer.toString(FerryDaemons.DEFAULT_PORT), mode, log.toString(),
                        Long.toString(timeoutSeconds)))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()));
        RelayProcess started = new RelayProcess(relay.getSimpleName(), fx.lab().track(builder.start()), log, out);
        try {
            started.awaitListening();
        } catch (AssertionError | InterruptedException e) {
            started.stop();
            throw e;
        }
        return started;
    }

    private void awaitListening() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LISTENING_WITHIN_SECONDS);
        while (!LogTail.grep(log, "listening", 1).contains("listening")) {
            assertTrue(process.isAlive(), () -> name + " exited with code " + process.exitValue() + ":\n"
                    + LogTail.of(out, 20));
            assertTrue(System.nanoTime() < deadline, () -> name + " printed no 'listening' line within "
                    + LISTENING_WITHIN_SECONDS + " s; its output " + out + ":\n" + LogTail.of(out, 20));
            Thread.sleep(20);
        }
    }

    /** The relay's log file. */
    Path log() {
        return log;
    }

    /** The relay's log lines that contain {@code needle}, at most {@code max}. */
    String grep(String needle, int max) {
        return LogTail.grep(log, needle, max);
    }

    /** The tail of the relay's log, for a failing assertion's message. */
    String diagnostics() {
        return "\nrelay log " + log + ":\n" + LogTail.of(log, 20) + "\n";
    }

    /** Stops the relay by its PID: SIGTERM, then SIGKILL if it is still there after 5 s. Idempotent. */
    void stop() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS);
            }
        }
    }
}
