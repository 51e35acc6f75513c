package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import picocli.CommandLine.Command;

/** The root {@code ferry} command. */
@Command(name = "ferry", mixinStandardHelpOptions = true, versionProvider = FerryVersion.class,
        description = {"Live migration of Linux process trees with CRIU; images are streamed, never written to disk."},
        subcommands = {ImageCacheCommand.class, ImageProxyCommand.class, DumpCommand.class, RestoreCommand.class, MigrateCommand.class,
                ImagesCommand.class, CheckCommand.class, CertsCommand.class, DemoCommand.class},
        footerHeading = "%nExit codes:%n",
        footer = {"  0 success, 1 internal error, 2 usage, 3 CRIU missing, 4 CRIU failed, 5 local daemon unreachable,",
                "  6 image-cache unreachable, 7 refused, 8 integrity, 9 not found, 10 permission, 11 timeout",
                "  (docs/exit-codes.md)"})
public final class FerryCommand implements Runnable {

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                "missing subcommand (expected: one of image-cache, image-proxy, dump, restore, images, check, certs, demo)");
    }

    static int exit(ExitCode code) {
        return code.code();
    }
}
