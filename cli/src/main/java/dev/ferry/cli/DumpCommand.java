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
                .setCriu(criu.toProto().setLeaveRunning(leaveRunning).setNetworkLock(networkLock == null ? "" : networkLock)))
                .build();
        ClientOutput output = ClientOutput.of(spec, "ferry dump");
        Result result = output.askProxy(runDir, request);
        return json ? output.json(result, output.transferJson(result, snapshot, pid)) : output.result(result);
    }
}
