package dev.ferry.proxy;

import dev.ferry.criu.Criu;
import dev.ferry.criu.RecentCheck;
import dev.ferry.criu.CriuLog;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuOptionsMapping;
import dev.ferry.criu.NetworkLock;
import dev.ferry.dump.DumpListener;
import dev.ferry.dump.DumpOutcome;
import dev.ferry.net.ServiceAddress;
import dev.ferry.posix.HostCommand;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.MigrateRequest;
import dev.ferry.protocol.control.PhaseTime;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The source's half of {@code ferry migrate}, on the image-proxy: preflight on this node (the process exists,
 * {@code criu check} passes, the service address is here), then the dump of {@link DumpService} with a
 * {@link MigrateSpec} for the target, whose post-dump barrier holds the source frozen until the target reports the
 * tree restored and running; only then does CRIU end the source. The target holds its restored tree until the
 * link says RESUME (see {@link CacheLink}), which it does only while this barrier still waits. Afterwards the hand-over: the service address and CRIU's
 * network lock are removed from this node. Any failure before the target's report fails the barrier, so CRIU
 * unlocks the network and resumes the source, which keeps its address.
 *
 * <p>Stateless between requests; each migration runs on its control-socket thread.
 */
final class MigrationSource {

    static final String PHASE_RESTORE = "restore";
    static final String PHASE_RESTORED = "restored";
    static final String PHASE_HANDOVER = "handover";
    /** Post-copy: the tree runs on the target, its remaining pages cross. */
    static final String PHASE_POST_COPY = ProxyConfig.PHASE_POST_COPY;
    /** How long the pages of a post-copy migration may take to arrive, unless the request says. */
    static final Duration DEFAULT_LAZY_TIMEOUT = Duration.ofMinutes(10);
    /** How long a passing {@code criu check} stands for the next migrations (many at once would each run CRIU). */
    static final Duration CHECK_VALID_FOR = Duration.ofSeconds(30);
    private static final Logger LOG = Logger.getLogger(MigrationSource.class.getName());
    private static final Duration DEFAULT_RESTORE_TIMEOUT = Duration.ofMinutes(2);

    private final ProxyConfig config;
    private final DumpService dumps;
    private final RecentCheck criuCheck;

    MigrationSource(ProxyConfig config, DumpService dumps) {
        this.config = config;
        this.dumps = dumps;
        this.criuCheck = new RecentCheck(config.criu(), CHECK_VALID_FOR);
    }

    /** Timestamps of one migration's phases, in nanoTime. */
    private static final class Clock implements DumpListener {
        final long start = System.nanoTime();
        volatile long criu;
        volatile long committed;
        volatile long restored;

        @Override
        public void phase(String phase) {
            if (phase.equals(DumpListener.PHASE_CRIU)) {
                criu = System.nanoTime();
            } else if (phase.equals(PHASE_RESTORE)) {
                committed = System.nanoTime();
            }
        }
    }

    Result migrate(MigrateRequest r, ControlSession session) {
        String snapshot = r.getSnapshot().isEmpty()
                ? "migrate-" + r.getPid() + "-" + System.currentTimeMillis() / 1000 : r.getSnapshot();
        String problem = SnapshotName.problem(snapshot);
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, problem);
        }
        SnapshotName name = SnapshotName.of(snapshot);
        long pid = r.getPid();
        if (pid <= 0 || !ProcessMemory.exists(pid)) {
            return Results.failure(ExitCode.USAGE, "-t " + pid + ": no such process on this node (expected: the PID of"
                    + " the root of a running process tree, as seen from the image-proxy's PID namespace)");
        }
        if (r.getCriu().getLeaveRunning()) {
            return Results.failure(ExitCode.USAGE, "--leave-running: a migration ends the source once the target runs"
                    + " it (expected: no --leave-running; use `ferry dump --leave-running` to copy a process instead)");
        }
        dev.ferry.protocol.control.CriuOptions dumpProto = withLockMethod(r.getCriu());
        CriuOptions options;
        try {
            options = CriuOptionsMapping.from(dumpProto);
            CriuOptionsMapping.from(r.getRestore());
        } catch (IllegalArgumentException e) {
            return Results.failure(ExitCode.USAGE, e.getMessage());
        }
        ServiceAddress address = null;
        String device = null;
        if (!r.getMoveIp().isEmpty()) {
            try {
                address = ServiceAddress.parse(r.getMoveIp());
            } catch (IllegalArgumentException e) {
                return Results.failure(ExitCode.USAGE, e.getMessage());
            }
        }
        session.progress("preflight", 0, 0, "checking CRIU and the service address on this node");
        if (r.getLazy()) {
            String lazy = LazyPreflight.problem();
            if (lazy != null) {
                return refused(name, pid, lazy);
            }
        }
        try {
            Criu.CheckResult check = criuCheck.check();
            if (!check.ok()) {
                return refused(name, pid, "`criu check` fails on the source: "
                        + check.output().strip().replace('\n', ' ') + "; run `ferry check`");
            }
            if (address != null) {
                Optional<String> held = address.assignedDevice();
                if (held.isEmpty()) {
                    return refused(name, pid, "--move-ip " + address + ": " + address.ip() + " is not assigned on this"
                            + " node (expected: the service address the process uses here); check `ip addr`");
                }
                device = address.device() != null ? address.device() : held.get();
            }
        } catch (IOException e) {
            return refused(name, pid, "preflight on the source failed: " + e.getMessage());
        }
        Duration restoreTimeout = r.getRestoreTimeoutMillis() > 0
                ? Duration.ofMillis(r.getRestoreTimeoutMillis()) : DEFAULT_RESTORE_TIMEOUT;
        MigrateSpec spec = MigrateSpec.newBuilder()
                .setRestore(r.getRestore())
                .setMoveIp(address == null ? "" : address.cidr() + (address.device() == null ? "" : "@" + address.device()))
                .setRestoreTimeoutMillis(restoreTimeout.toMillis())
                .setLazyPages(r.getLazy())
                .setLazyTimeoutMillis(lazyTimeout(r).toMillis())
                .build();
        String host = r.getToHost().isEmpty() ? config.cacheHost() : r.getToHost();
        int port = r.getToPort() == 0 ? config.cachePort() : r.getToPort();
        Clock c = new Clock();
        AddressOnSource a = address == null ? null : new AddressOnSource(address, device);
        DumpService.Plan plan = new DumpService.Plan(name, pid, options, host, port, spec, restoreTimeout,
                (p, link, outcome) -> handOver(p, link, outcome, session, c, a), r.getLazy(), lazyTimeout(r));
        LOG.info(() -> "snapshot " + name + ": migration of pid " + pid + " to " + plan.target() + " starting");
        Result result = dumps.run(plan, session, c);
        if (result.getOk()) {
            return result;
        }
        LOG.warning(() -> "snapshot " + name + ": migration failed; the source keeps running: " + result.getMessage());
        return result.toBuilder()
                .setTarget(plan.target())
                .setSourceResumed(ProcessMemory.exists(pid))
                .setMessage("migration of pid " + pid + " to " + plan.target() + " failed: " + result.getMessage())
                .build();
    }

    private static Duration lazyTimeout(MigrateRequest r) {
        return r.getLazyTimeoutMillis() > 0 ? Duration.ofMillis(r.getLazyTimeoutMillis()) : DEFAULT_LAZY_TIMEOUT;
    }

    /** The service address to take off this node in the hand-over, and its device. */
    private record AddressOnSource(ServiceAddress address, String device) { }

    /** With --tcp-established and no lock method given: nftables where the nft tool is present, else iptables. */
    private static dev.ferry.protocol.control.CriuOptions withLockMethod(dev.ferry.protocol.control.CriuOptions o) {
        if (!o.getTcpEstablished() || !o.getNetworkLock().isEmpty()) {
            return o;
        }
        String method;
        try {
            method = HostCommand.run("nft", "--version").ok() ? "nftables" : "iptables";
        } catch (IOException e) {
            method = "iptables";
        }
        return o.toBuilder().setNetworkLock(method).build();
    }

    private static Result refused(SnapshotName name, long pid, String why) {
        LOG.warning(() -> "snapshot " + name + ": migration refused: " + why);
        return Results.failure(ExitCode.REFUSED, "migration of pid " + pid + " refused before anything was frozen: "
                + why).toBuilder().setSourceResumed(true).build();
    }

    /**
     * The plan's {@link DumpService.HandOver}, once CRIU exited 0 after the target reported the tree running: CRIU
     * has ended the source. Removes the service address {@code a} (if any) and CRIU's network lock from this node
     * and builds the summary from the phase times in {@code c}.
     */
    private static Result handOver(DumpService.Plan plan, CacheLink link, DumpOutcome outcome, ControlSession session,
                                   Clock c, AddressOnSource a) {
        long ended = System.nanoTime();
        SnapshotRestored restored = link.restored().getNow(null);
        session.progress(PHASE_HANDOVER, outcome.bytes(), outcome.images(), "removing the address and CRIU's lock here");
        List<String> problems = new ArrayList<>();
        if (a != null) {
            try {
                a.address().remove(a.device());
            } catch (IOException e) {
                problems.add("removing " + a.address().cidr() + " from " + a.device() + ": " + e.getMessage());
            }
        }
        NetworkLock.Removed lock = new NetworkLock.Removed(List.of(), 0);
        try {
            lock = NetworkLock.removeLeftovers(outcome.logPath());
        } catch (IOException e) {
            problems.add(e.getMessage());
        }
        long done = System.nanoTime();
        NetworkLock.Removed removed = lock;
        SnapshotName name = plan.name();
        // the source froze when CRIU seized its first task; the target runs once its restore returned
        long frozenAt = c.criu + CriuLog.offsetOf(outcome.logPath(), "Seized task").orElse(Duration.ZERO).toNanos();
        long restoredAt = link.restoredAt();
        long freezeMillis = Math.max(0, (restoredAt - frozenAt) / 1_000_000);
        long committedAt = c.committed == 0 ? restoredAt : c.committed;
        long heldAt = link.heldAt() == 0 ? restoredAt : link.heldAt();
        List<PhaseTime> phases = List.of(
                phase("preflight", c.start, c.criu),
                phase("dump", c.criu, committedAt),
                phase("restore", committedAt, heldAt),
                phase("resume", heldAt, restoredAt),
                phase("handover", restoredAt, done));
        long pid = restored == null ? 0 : restored.pid();
        LOG.info(() -> "snapshot " + name + ": migrated pid " + plan.pid() + " to " + plan.target() + " (pid " + pid
                + " there), frozen " + freezeMillis + " ms; removed " + removed.nftTables().size() + " nftables table(s), "
                + removed.iptablesRules() + " iptables rule(s)" + (a == null ? "" : ", address " + a.address().ip())
                + (problems.isEmpty() ? "" : "; problems: " + String.join("; ", problems)));
        long millis = (done - c.start) / 1_000_000;
        double seconds = Math.max(1, (committedAt - c.criu) / 1_000_000) / 1000.0;
        String summary = "migrated pid " + plan.pid() + " to " + plan.target() + " as pid " + pid + ": "
                + outcome.images() + " images, " + outcome.bytes() + " bytes at "
                + String.format("%.1f", outcome.bytes() / seconds / 1e6) + " MB/s, frozen " + freezeMillis + " ms"
                + (problems.isEmpty() ? "" : "; WARNING, clean up by hand: " + String.join("; ", problems));
        Result.Builder b = Results.success(summary);
        if (plan.lazy()) {
            long lazyBytes = link.lazyBytes();
            long lazyMillis = Math.max(0, (ended - restoredAt) / 1_000_000);
            b.setLazyBytes(lazyBytes).setLazyMillis(lazyMillis).setMessage(summary + "; post-copy: " + lazyBytes
                    + " page bytes followed in " + lazyMillis + " ms");
        }
        return b
                .setBytes(outcome.bytes())
                .setImages(outcome.images())
                .setDurationMillis(millis)
                .setRestoredPid(pid)
                .setFreezeMillis(freezeMillis)
                .setTarget(plan.target())
                .addAllMigratePhases(phases)
                .setCriuLogPath(String.valueOf(outcome.logPath()))
                .setTerminal(restored == null ? "" : restored.terminal())
                .setTerminalLog(restored == null ? "" : restored.terminalLog())
                .build();
    }

    private static PhaseTime phase(String name, long from, long to) {
        return PhaseTime.newBuilder().setPhase(name).setMillis(Math.max(0, (to - from) / 1_000_000)).build();
    }
}
