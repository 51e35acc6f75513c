package dev.ferry.cli.lab;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a short host command ({@code ip}, {@code nsenter}, {@code criu --version}) to completion and
 * captures its combined output. The output goes through a temporary file rather than a pipe, so a
 * command that leaves a background child holding its stdout cannot hang the caller.
 */
public final class HostCommand {

    /** Default time a host command may take before it is killed. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /** The outcome of one command: its exit code (-1 when it timed out) and combined stdout/stderr. */
    public record Result(List<String> command, int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** One line for error messages: the command, its exit code and its output. */
        public String describe() {
            return String.join(" ", command) + " -> exit " + exitCode
                    + (output.isBlank() ? "" : ": " + output.strip());
        }
    }

    private HostCommand() {
    }

    /** Runs {@code command} and returns its result whatever the exit code. */
    public static Result exec(Duration timeout, List<String> command) throws IOException {
        return exec(new ProcessBuilder(command), timeout);
    }

    /** Runs a prepared process builder (its output redirection is replaced) and returns its result. */
    public static Result exec(ProcessBuilder builder, Duration timeout) throws IOException {
        Path out = Files.createTempFile("fy-cmd", ".out");
        try {
            builder.redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            Process process = builder.start();
            boolean done;
            try {
                done = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running " + builder.command(), e);
            }
            if (!done) {
                process.destroyForcibly();
            }
            String output = Files.readString(out, StandardCharsets.UTF_8);
            return new Result(List.copyOf(builder.command()), done ? process.exitValue() : -1, output);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs {@code command} and returns its output; a non-zero exit becomes an IOException with the output. */
    public static String run(List<String> command) throws IOException {
        Result result = exec(DEFAULT_TIMEOUT, command);
        if (!result.ok()) {
            throw new IOException(result.describe());
        }
        return result.output();
    }

    /** Like {@link #run(List)} with varargs. */
    public static String run(String... command) throws IOException {
        return run(List.of(command));
    }
}
