package dev.ferry.cli;

import picocli.CommandLine;

/** Entry point of {@code ferry}; the only place that calls {@link System#exit}. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
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
