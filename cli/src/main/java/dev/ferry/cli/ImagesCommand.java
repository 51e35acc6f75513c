package dev.ferry.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ferry images}: what the local image-cache holds. Subcommands talk to it over its control socket. */
@Command(name = "images", mixinStandardHelpOptions = true,
        description = "Inspect the snapshots the local image-cache holds (target node).",
        subcommands = {ImagesLsCommand.class, ImagesShowCommand.class, ImagesRmCommand.class, ImagesVerifyCommand.class})
public final class ImagesCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing subcommand (expected: ls, show, rm or verify)");
    }
}
