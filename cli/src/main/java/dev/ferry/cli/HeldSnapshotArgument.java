package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.image.SnapshotName;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.function.Function;

/**
 * NAME and {@code --run-dir} of the {@code ferry images} commands that act on one snapshot the local image-cache
 * holds (show, verify, rm): a bad NAME is refused here, without asking the cache.
 */
final class HeldSnapshotArgument {

    @Parameters(index = "0", paramLabel = "NAME", description = "Snapshot name in the image-cache.")
    String snapshot;

    @Mixin
    RunDirOption runDir;

    /** The cache's answer to the request made for NAME, or a USAGE failure saying what is wrong with NAME. */
    Result ask(ClientOutput output, Function<String, Request> request) {
        String problem = SnapshotName.problem(snapshot);
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, "NAME: " + problem);
        }
        return output.askCache(runDir, request.apply(snapshot));
    }
}
