package dev.ferry.criu;

import dev.ferry.protocol.criu.CriuRpc;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The CRIU options ferry passes through, named as CRIU names them; validated on construction.
 *
 * @param leaveRunning  {@code --leave-running} (dump only): the source keeps running after the dump
 * @param shellJob      {@code --shell-job}
 * @param tcpEstablished {@code --tcp-established}
 * @param extUnixSk     {@code --ext-unix-sk}
 * @param fileLocks     {@code --file-locks}
 * @param tcpClose      {@code --tcp-close}
 * @param networkLock   {@code --network-lock} (dump only): nftables, iptables or skip; null or empty for CRIU's default
 * @param manageCgroups {@code --manage-cgroups=}: none, props, soft, full, strict or ignore; null for CRIU's default
 * @param cgroupRoots   one {@code --cgroup-root} each, {@code [controller:]/newroot}
 */
public record CriuOptions(boolean leaveRunning, boolean shellJob, boolean tcpEstablished, boolean extUnixSk,
                          boolean fileLocks, boolean tcpClose, String networkLock, String manageCgroups,
                          List<String> cgroupRoots) {

    public static final Set<String> NETWORK_LOCKS = Set.of("nftables", "iptables", "skip");
    public static final Set<String> CGROUP_MODES = Set.of("none", "props", "soft", "full", "strict", "ignore");

    public CriuOptions {
        if (networkLock != null && networkLock.isEmpty()) {
            networkLock = null;
        }
        if (manageCgroups != null && manageCgroups.isEmpty()) {
            manageCgroups = null;
        }
        if (networkLock != null && !NETWORK_LOCKS.contains(networkLock)) {
            throw new IllegalArgumentException("--network-lock: '" + networkLock
                    + "' (expected: nftables, iptables or skip; leave it out for CRIU's default)");
        }
        if (manageCgroups != null && !CGROUP_MODES.contains(manageCgroups)) {
            throw new IllegalArgumentException("--manage-cgroups: '" + manageCgroups
                    + "' (expected: none, props, soft, full, strict or ignore)");
        }
        cgroupRoots = cgroupRoots == null ? List.of() : List.copyOf(cgroupRoots);
        for (String root : cgroupRoots) {
            if (root.isBlank() || root.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("--cgroup-root: '" + root
                        + "' (expected: [controller:]/newroot without spaces, e.g. cpu:/ferry)");
            }
        }
    }

    /** Everything off, CRIU's defaults for the rest. */
    public static CriuOptions defaults() {
        return new CriuOptions(false, false, false, false, false, false, null, null, List.of());
    }

    /** Options for {@code criu dump}. */
    public List<String> dumpArgs() {
        List<String> args = new ArrayList<>();
        if (leaveRunning) {
            args.add("--leave-running");
        }
        common(args);
        if (networkLock != null) {
            args.add("--network-lock");
            args.add(networkLock);
        }
        return List.copyOf(args);
    }

    /** Options for {@code criu restore}: {@code --leave-running} and {@code --network-lock} do not apply. */
    public List<String> restoreArgs() {
        List<String> args = new ArrayList<>();
        common(args);
        return List.copyOf(args);
    }

    /**
     * {@link #restoreArgs()} as fields of a {@code criu swrk} request ({@link CriuSwrk}): the same options, named as
     * CRIU's rpc.proto names them.
     */
    public CriuRpc.criu_opts.Builder restoreRpc(CriuRpc.criu_opts.Builder opts) {
        if (shellJob) {
            opts.setShellJob(true);
        }
        if (tcpEstablished) {
            opts.setTcpEstablished(true);
        }
        if (extUnixSk) {
            opts.setExtUnixSk(true);
        }
        if (fileLocks) {
            opts.setFileLocks(true);
        }
        if (tcpClose) {
            opts.setTcpClose(true);
        }
        if (manageCgroups != null) {
            opts.setManageCgroupsMode(switch (manageCgroups) {
                case "none" -> CriuRpc.criu_cg_mode.CG_NONE;
                case "props" -> CriuRpc.criu_cg_mode.PROPS;
                case "soft" -> CriuRpc.criu_cg_mode.SOFT;
                case "full" -> CriuRpc.criu_cg_mode.FULL;
                case "strict" -> CriuRpc.criu_cg_mode.STRICT;
                default -> CriuRpc.criu_cg_mode.IGNORE; // the constructor admits CGROUP_MODES only
            });
        }
        for (String root : cgroupRoots) {
            int colon = root.indexOf(':');
            CriuRpc.cgroup_root.Builder r = CriuRpc.cgroup_root.newBuilder();
            if (colon >= 0) { // as CRIU splits --cgroup-root: at the first colon
                r.setCtrl(root.substring(0, colon));
            }
            opts.addCgRoot(r.setPath(root.substring(colon + 1)));
        }
        return opts;
    }

    private void common(List<String> args) {
        if (shellJob) {
            args.add("--shell-job");
        }
        if (tcpEstablished) {
            args.add("--tcp-established");
        }
        if (extUnixSk) {
            args.add("--ext-unix-sk");
        }
        if (fileLocks) {
            args.add("--file-locks");
        }
        if (tcpClose) {
            args.add("--tcp-close");
        }
        if (manageCgroups != null) {
            args.add("--manage-cgroups=" + manageCgroups);
        }
        for (String root : cgroupRoots) {
            args.add("--cgroup-root");
            args.add(root);
        }
    }
}
