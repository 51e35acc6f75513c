package dev.ferry.criu;

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
