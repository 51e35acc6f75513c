package dev.ferry.cli.lab;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One running {@code ferry} client command. Owns the child process and two reader threads that
 * collect its stdout and stderr line by line and hand each line to a listener as it arrives.
 */
public final class FerryRun {

    /** Receives each output line of the command as it arrives, from a reader thread. */
    @FunctionalInterface
    public interface LineListener {
        LineListener NONE = (stderr, line) -> { };

        void line(boolean stderr, String line);
    }

    private final List<String> command;
    private final Process process;
    private final long startNanos = System.nanoTime();
    private final StringBuffer stdout = new StringBuffer();
    private final StringBuffer stderr = new StringBuffer();
    private final Thread outReader;
    private final Thread errReader;

    FerryRun(List<String> command, Process process, LineListener listener) {
        this.command = List.copyOf(command);
        this.process = process;
        LineListener sink = listener == null ? LineListener.NONE : listener;
        this.outReader = reader(process.getInputStream(), stdout, false, sink);
        this.errReader = reader(process.getErrorStream(), stderr, true, sink);
    }

    private Thread reader(InputStream in, StringBuffer into, boolean isErr, LineListener listener) {
        Thread thread = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    into.append(line).append('\n');
                    listener.line(isErr, line);
                }
            } catch (IOException e) {
                // process gone
            }
        }, "ferry-run-" + (isErr ? "err" : "out"));
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    /** Stdout collected so far. */
    public String stdoutSoFar() {
        return stdout.toString();
    }

    /** Stderr collected so far. */
    public String stderrSoFar() {
        return stderr.toString();
    }

    /** Waits for the command to exit; after {@code timeout} it is killed and the result says so. */
    public FerryResult await(Duration timeout) throws InterruptedException {
        boolean exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!exited) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        long elapsed = (System.nanoTime() - startNanos) / 1_000_000;
        outReader.join(2_000);
        errReader.join(2_000);
        int exitCode = process.isAlive() ? -1 : process.exitValue();
        return new FerryResult(command, exited ? exitCode : -1, stdout.toString(), stderr.toString(), elapsed,
                !exited);
    }
}
