package dev.ferry.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What a node holds that a migration may leave behind: addresses, CRIU's network-lock rules (an nftables table
 * {@code CRIU-*}, iptables rules with mark 0xc114) and processes; read with the node's own tools.
 */
final class NodeState {

    private static final Pattern RESTORED_PID = Pattern.compile("as pid (\\d+)");

    private final LabFixture fx;
    private final String ns;

    NodeState(LabFixture fx, String ns) {
        this.fx = fx;
        this.ns = ns;
    }

    boolean hasAddress(String ip) throws IOException, InterruptedException {
        return !fx.runIn(ns, "ip", "-o", "-4", "addr", "show", "to", ip + "/32").isBlank();
    }

    void addAddress(String cidr) throws IOException, InterruptedException {
        fx.runIn(ns, "ip", "addr", "add", cidr, "dev", "eth0");
    }

    /** CRIU lock tables and rules: empty when nothing is left. */
    List<String> lockRules() throws IOException, InterruptedException {
        List<String> found = new ArrayList<>();
        for (String line : fx.runIn(ns, "nft", "list", "tables").split("\n")) {
            if (line.contains("CRIU")) {
                found.add("nft: " + line.trim());
            }
        }
        for (String line : fx.runIn(ns, "iptables", "-S").split("\n")) {
            if (line.toLowerCase().contains("0xc114")) {
                found.add("iptables: " + line.trim());
            }
        }
        return found;
    }

    /** PIDs of processes in this node's network namespace whose command line contains {@code needle}. */
    List<Long> processes(String needle) throws IOException {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                long pid = Long.parseLong(p.getFileName().toString());
                try {
                    String cmdline = Files.readString(p.resolve("cmdline")).replace('\0', ' ');
                    if (cmdline.contains(needle) && fx.lab().processInNode(pid, ns)) {
                        pids.add(pid);
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            }
        }
        return pids;
    }

    /** The restored root pid that {@code ferry migrate} printed ("... as pid N: ..."). */
    static long restoredPid(String migrateStdout) {
        Matcher m = RESTORED_PID.matcher(migrateStdout);
        if (!m.find()) {
            throw new AssertionError("ferry migrate printed no 'as pid N': " + migrateStdout);
        }
        return Long.parseLong(m.group(1));
    }
}
