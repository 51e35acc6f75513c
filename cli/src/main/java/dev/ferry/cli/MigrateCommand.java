package dev.ferry.cli;

import dev.ferry.net.ServiceAddress;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.MigrateRequest;
import dev.ferry.protocol.control.PhaseTime;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.image.SnapshotName;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * {@code ferry migrate -t PID --to HOST[:PORT]}: asks the local image-proxy to move a process tree to the image-cache
 * at HOST, restore it there and end it here only once it runs there; on any failure it runs on here.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = {"Move process tree PID to the node whose image-cache listens at HOST[:PORT]: dump, stream, verify,"
                + " restore there, and only then end it here. Any failure before the target runs it resumes it here.",
                "Run on the source node, next to its image-proxy."})
public final class MigrateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-t", "--tree"}, required = true, paramLabel = "PID", description = "Root of the process tree to move.")
    long pid;

    @Option(names = "--to", paramLabel = "HOST[:PORT]",
            description = "The target's image-cache (default: the image-proxy's --address and --port).")
    String to;

    @Option(names = {"-D", "--snapshot"}, paramLabel = "NAME",
            description = "Name of the snapshot in transit (default: migrate-PID-TIME).")
    String snapshot;

    @Option(names = "--move-ip", paramLabel = "ADDR/PREFIX[@DEV]",
            description = "Hand this service address over: added quietly on the target before the restore, announced"
                    + " (gratuitous ARP) after it succeeded, then removed here. IPv4.")
    String moveIp;

    @Option(names = "--network-lock", paramLabel = "METHOD",
            description = "CRIU --network-lock: nftables, iptables or skip (default with --tcp-established: nftables"
                    + " where nft is installed, else iptables).")
    String networkLock;

    @Option(names = "--restore-timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "How long the target's restore may take; the source stays frozen meanwhile (default: ${DEFAULT-VALUE}).")
    long restoreTimeoutSeconds;

    @Option(names = "--lazy", description = "Post-copy: the target runs the process right after a freeze that does not"
            + " grow with its memory, and its pages follow over the same authenticated link. If the link or the"
            + " image-proxy fails before the last page arrived, the process is lost on both nodes (docs/migrate.md)."
            + " Needs fs.pipe-max-size >= 4194304 on the source.")
    boolean lazy;

    @Option(names = "--lazy-timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "With --lazy: how long the pages may take to arrive; past it the migration fails (and the"
                    + " process is lost) rather than keep the source frozen (default: ${DEFAULT-VALUE}).")
    long lazyTimeoutSeconds;

    @Option(names = "--json", description = "Print exactly one JSON object on stdout: ferry's figures (as for dump),"
            + " the migration's phases, freeze time, target and whether the source runs on; see docs/usage.md.")
    boolean json;

    @Mixin
    CriuPassThrough criu;

    @Mixin
    RunDirOption runDir;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (snapshot != null) {
            String problem = SnapshotName.problem(snapshot);
            if (problem != null) {
                err.println("ferry migrate: -D: " + problem);
                return ExitCode.USAGE.code();
            }
        }
        MigrateRequest.Builder b = request();
        if (to != null) {
            String problem = setTarget(b, to);
            if (problem != null) {
                err.println("ferry migrate: --to " + to + ": " + problem);
                return ExitCode.USAGE.code();
            }
        }
        if (moveIp != null) {
            try {
                ServiceAddress.parse(moveIp);
            } catch (IllegalArgumentException e) {
                err.println("ferry migrate: " + e.getMessage());
                return ExitCode.USAGE.code();
            }
            b.setMoveIp(moveIp);
        }
        ClientOutput output = ClientOutput.of(spec, "ferry migrate");
        Result result = output.askProxy(runDir, Request.newBuilder().setMigrate(b).build());
        if (lazy) {
            result = output.explainLostProxyInPostCopy(result);
        }
        if (json) {
            java.util.Map<String, Object> m = output.transferJson(result, snapshot == null ? "" : snapshot, pid);
            m.put("migrate_phases", result.getMigratePhasesList().stream().map(Json::fields).toList());
            m.put("freeze_ms", result.getFreezeMillis());
            m.put("target", result.getTarget());
            m.put("source_resumed", result.getSourceResumed());
            m.put("restored_pid", result.getRestoredPid());
            if (lazy) {
                m.put("lazy_bytes", result.getLazyBytes());
                m.put("lazy_ms", result.getLazyMillis());
            }
            return output.json(result, m);
        }
        int code = output.result(result);
        if (result.getMigratePhasesCount() > 0) {
            PrintWriter out = result.getOk() ? spec.commandLine().getOut() : err;
            for (PhaseTime p : result.getMigratePhasesList()) {
                out.printf("  %-10s %6d ms%n", p.getPhase(), p.getMillis());
            }
            out.printf("  %-10s %6d ms (source frozen until the target ran it)%n", "frozen", result.getFreezeMillis());
            if (lazy && result.getOk()) {
                out.printf("  %-10s %6d ms (target ran -> last page arrived, %d bytes)%n", "post-copy",
                        result.getLazyMillis(), result.getLazyBytes());
            }
            out.flush();
        }
        if (!result.getOk() && result.getSourceResumed()) {
            err.println("ferry migrate: process " + pid + " keeps running on this node");
            err.flush();
        }
        return code;
    }

    /** The request's pid, name, CRIU options for the dump and for the target's restore, and restore timeout. */
    MigrateRequest.Builder request() {
        return MigrateRequest.newBuilder()
                .setPid(pid)
                .setSnapshot(snapshot == null ? "" : snapshot)
                // --cgroup-root names the target's group: a restore option. On a dump CRIU reads it as the root to
                // dump below, which the source does not have (criu/cgroup.c: "failed walking ... for empty cgroups").
                .setCriu(criu.toProto().clearCgroupRoot().setNetworkLock(networkLock == null ? "" : networkLock))
                .setRestore(criu.toProto())
                .setRestoreTimeoutMillis(Math.max(1, restoreTimeoutSeconds) * 1000)
                .setLazy(lazy)
                .setLazyTimeoutMillis(Math.max(1, lazyTimeoutSeconds) * 1000);
    }

    /** Null if HOST[:PORT] was understood and set; else what is wrong. */
    static String setTarget(MigrateRequest.Builder b, String to) {
        String host = to;
        int colon = to.lastIndexOf(':');
        if (colon >= 0 && to.indexOf(':') == colon) {
            host = to.substring(0, colon);
            String port = to.substring(colon + 1);
            try {
                int p = Integer.parseInt(port);
                if (p < 1 || p > 65535) {
                    return "port " + p + " (expected: 1..65535)";
                }
                b.setToPort(p);
            } catch (NumberFormatException e) {
                return "port '" + port + "' (expected: a number 1..65535, e.g. 10.0.0.2:27027)";
            }
        }
        if (host.isBlank()) {
            return "no host (expected: HOST[:PORT], e.g. 10.0.0.2:27027)";
        }
        b.setToHost(host);
        return null;
    }
}
