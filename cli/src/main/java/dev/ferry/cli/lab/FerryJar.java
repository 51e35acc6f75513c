package dev.ferry.cli.lab;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A runnable {@code ferry.jar} and the java executable that runs it. Builds the command lines of
 * the daemons and starts the {@code ferry} client commands as child processes. Immutable.
 */
public final class FerryJar {

    /** JVM options for short-lived client commands: they start faster. */
    public static final List<String> CLIENT_JVM_OPTIONS = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    private final Path java;
    private final Path jar;

    public FerryJar(Path java, Path jar) {
        this.java = java;
        this.jar = jar;
    }

    /** The jar run by this JVM's own java executable. */
    public static FerryJar of(Path jar) {
        return new FerryJar(currentJava(), jar);
    }

    /** The java executable of this JVM ({@code ProcessHandle.current().info().command()}, else java.home). */
    public static Path currentJava() {
        return ProcessHandle.current().info().command().map(Path::of)
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java"));
    }

    public Path java() {
        return java;
    }

    public Path jar() {
        return jar;
    }

    /** Fails with a clear message when the jar is missing. */
    public FerryJar requireExists() throws IOException {
        if (!Files.isRegularFile(jar)) {
            throw new IOException("ferry jar not found: " + jar + " (build it: mvn -B -q -o package)");
        }
        return this;
    }

    /** {@code java [jvmOptions] -jar JAR args...}. */
    public List<String> command(List<String> jvmOptions, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(java.toString());
        command.addAll(jvmOptions);
        command.add("-jar");
        command.add(jar.toString());
        command.addAll(args);
        return command;
    }

    /**
     * Starts {@code ferry args...} as a client command inside node {@code ns} (root netns when
     * {@code ns} is null); its output lines go to {@code listener} as they arrive.
     */
    public FerryRun start(TwoNodeLab lab, String ns, List<String> args, FerryRun.LineListener listener)
            throws IOException {
        List<String> command = command(CLIENT_JVM_OPTIONS, args);
        ProcessBuilder builder = ns == null ? new ProcessBuilder(command) : lab.inNode(ns, command);
        builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().remove("FERRY_RUN_DIR");
        Process process = builder.start();
        if (lab != null) {
            lab.track(process);
        }
        return new FerryRun(builder.command(), process, listener);
    }

    /** Runs {@code ferry args...} to completion (or {@code timeout}, after which it is killed). */
    public FerryResult run(TwoNodeLab lab, String ns, Duration timeout, FerryRun.LineListener listener,
            List<String> args) throws IOException, InterruptedException {
        return start(lab, ns, args, listener).await(timeout);
    }

    @Override
    public String toString() {
        return java + " -jar " + jar;
    }
}
