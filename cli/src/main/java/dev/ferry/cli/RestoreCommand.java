package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.RestoreRequest;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.image.SnapshotName;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ferry restore -D NAME --remote}: asks the local image-cache to restore a snapshot it holds. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = "Restore snapshot NAME from the local image-cache (criu restore --stream, detached).")
public final class RestoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-D", "--images-dir"}, required = true, paramLabel = "NAME", description = "Snapshot name in the image-cache.")
    String snapshot;

    @Option(names = "--remote", required = true, description = "Restore from the image-cache (the only mode).")
    boolean remote;

    @Option(names = {"-d", "--restore-detached"}, description = "Accepted for CRIU compatibility: ferry always restores detached.")
    boolean detached;

    @Option(names = "--pidfile", paramLabel = "FILE", description = "Write the restored root's PID to FILE.")
    Path pidfile;

    @Option(names = "--keep", description = "Keep the snapshot in the cache after a successful restore (default: drop it).")
    boolean keep;

    @Option(names = "--lazy", description = "Restore a snapshot of `ferry dump --remote --lazy` (post-copy): the tree"
            + " runs here as soon as it is restored, and its pages are fetched from the frozen source over the"
            + " image-proxy's link until the last one arrived. A snapshot dumped without --lazy is refused, and so is"
            + " a lazy one restored without it. If the link fails before the last page, the process is lost on both"
            + " nodes (docs/migrate.md).")
    boolean lazy;

    @Option(names = "--json", description = "Print exactly one JSON object on stdout: ferry's figures (snapshot, pid,"
            + " bytes, images, duration, rate, phases) and CRIU's own statistics; see docs/usage.md.")
    boolean json;

    @Mixin
    CriuPassThrough criu;

    @Mixin
    RunDirOption runDir;

    @Override
    public Integer call() {
        String problem = SnapshotName.problem(snapshot);
        if (problem != null) {
            spec.commandLine().getErr().println("ferry restore: -D: " + problem);
            return ExitCode.USAGE.code();
        }
        if (lazy && keep) {
            spec.commandLine().getErr().println("ferry restore: --keep with --lazy: a post-copy snapshot's pages cross"
                    + " once, out of the frozen source, which ends after the last one (expected: no --keep)");
            return ExitCode.USAGE.code();
        }
        Request request = Request.newBuilder().setRestore(RestoreRequest.newBuilder()
                .setSnapshot(snapshot)
                .setCriu(criu.toProto())
                .setKeep(keep)
                .setLazy(lazy)
                .setPidfile(pidfile == null ? "" : pidfile.toAbsolutePath().toString()))
                .build();
        ClientOutput output = ClientOutput.of(spec, "ferry restore");
        Result result = output.askCache(runDir, request);
        if (json) {
            java.util.Map<String, Object> m = output.transferJson(result, snapshot, result.getRestoredPid());
            if (lazy) {
                m.put("lazy_bytes", result.getLazyBytes());
                m.put("lazy_ms", result.getLazyMillis());
            }
            return output.json(result, m);
        }
        return output.result(result);
    }
}
