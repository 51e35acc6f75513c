package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.DumpRequest;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.image.SnapshotName;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code ferry dump -t PID -D NAME --remote}: asks the local image-proxy to dump a process tree to the cache. */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = "Checkpoint process tree PID into snapshot NAME on the image-cache, through the local image-proxy.")
public final class DumpCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-t", "--tree"}, required = true, paramLabel = "PID", description = "Root of the process tree to dump.")
    long pid;

    @Option(names = {"-D", "--images-dir"}, required = true, paramLabel = "NAME",
            description = "Snapshot name on the image-cache (with --remote, CRIU's -D names a snapshot, not a directory).")
    String snapshot;

    @Option(names = "--remote", required = true, description = "Send the images to the image-cache (the only mode).")
    boolean remote;

    @Option(names = "--leave-running", description = "Leave the tree running after the dump (CRIU --leave-running).")
    boolean leaveRunning;

    @Option(names = "--network-lock", paramLabel = "METHOD", description = "CRIU --network-lock: nftables, iptables or skip.")
    String networkLock;

    @Option(names = "--json", description = "Print exactly one JSON object on stdout: ferry's figures (snapshot, pid,"
            + " bytes, images, duration, rate, phases) and CRIU's own statistics; see docs/usage.md.")
    boolean json;

    @Option(names = "--lazy", description = "Post-copy in two commands: CRIU dumps with --lazy-pages, the images"
            + " without the process's memory cross to the image-cache, and the tree stays frozen here, serving its pages"
            + " until `ferry restore -D NAME --remote --lazy` on the target has fetched the last one (then it ends, as"
            + " after a dump). If no restore begins within --lazy-timeout, it runs on here. Once the restore began, a"
            + " failure loses the process on both nodes (docs/migrate.md). Needs fs.pipe-max-size >= 4194304 here.")
    boolean lazy;

    @Option(names = "--lazy-timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "With --lazy: how long a restore on the target may take to begin, and then its pages to"
                    + " arrive (default: ${DEFAULT-VALUE}).")
    long lazyTimeoutSeconds;

    @Mixin
    CriuPassThrough criu;

    @Mixin
    RunDirOption runDir;

    @Override
    public Integer call() {
        String problem = SnapshotName.problem(snapshot);
        if (problem != null) {
            spec.commandLine().getErr().println("ferry dump: -D: " + problem);
            return ExitCode.USAGE.code();
        }
        Request request = Request.newBuilder().setDump(DumpRequest.newBuilder()
                .setPid(pid)
                .setSnapshot(snapshot)
                .setCriu(criu.toProto().setLeaveRunning(leaveRunning).setNetworkLock(networkLock == null ? "" : networkLock))
                .setLazy(lazy)
                .setLazyTimeoutMillis(lazy ? Math.max(1, lazyTimeoutSeconds) * 1000 : 0))
                .build();
        ClientOutput output = ClientOutput.of(spec, "ferry dump").noteOnPhase(dev.ferry.proxy.ProxyConfig.PHASE_SERVING);
        Result result = output.askProxy(runDir, request);
        if (lazy) {
            result = output.explainLostProxyInPostCopy(result);
        }
        if (json) {
            java.util.Map<String, Object> m = output.transferJson(result, snapshot, pid);
            if (lazy) {
                m.put("restored_pid", result.getRestoredPid());
                m.put("lazy_bytes", result.getLazyBytes());
                m.put("lazy_ms", result.getLazyMillis());
            }
            return output.json(result, m);
        }
        return output.result(result);
    }
}
