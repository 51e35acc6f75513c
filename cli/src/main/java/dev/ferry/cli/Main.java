package dev.ferry.cli;

import picocli.CommandLine;

/** Entry point of {@code ferry}; the only place that calls {@link System#exit}. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        // Before any Netty class loads: with the jar's Add-Opens of java.nio, Netty may then allocate direct memory
        // without the JDK's zeroing pass (the image-cache's 4 MiB chunks are written in full before being read).
        if (System.getProperty("io.netty.tryReflectionSetAccessible") == null) {
            System.setProperty("io.netty.tryReflectionSetAccessible", "true");
        }
        LogSetup.configure();
        System.exit(commandLine().execute(args));
    }

    /** The root command with every subcommand; exit codes follow {@link dev.ferry.protocol.ExitCode}. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new FerryCommand());
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("ferry: internal error: " + e);
            e.printStackTrace(commandLine.getErr());
            return dev.ferry.protocol.ExitCode.FAILURE.code();
        });
        return cl;
    }
}
