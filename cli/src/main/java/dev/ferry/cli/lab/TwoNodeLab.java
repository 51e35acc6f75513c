package dev.ferry.cli.lab;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * Two "nodes" on one machine: network namespaces {@code <prefix>src} (SUBNET.1) and
 * {@code <prefix>dst} (SUBNET.2), optionally {@code <prefix>cli} (SUBNET.10), each with an
 * {@code eth0} veth whose peer {@code p-<node>} is enslaved to bridge {@code br0} in a switch
 * namespace {@code <prefix>sw}. The root network namespace is never touched (field notes §2.1).
 *
 * <p>The lab owns the namespaces it created and the processes registered or tracked with it;
 * {@link #close()} kills those processes by PID (a live process keeps an unnamed netns alive), then
 * deletes the namespaces. {@code close} is idempotent and also runs from a JVM shutdown hook.
 * Thread-safe.
 */
public final class TwoNodeLab implements AutoCloseable {

    private static final Pattern PREFIX = Pattern.compile("[a-z0-9][a-z0-9-]{0,15}");
    private static final Pattern SUBNET = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final Path NETNS_DIR = Path.of("/run/netns");

    private final String prefix;
    private final String subnet;
    private final boolean withClient;
    private final List<String> namespaces = new CopyOnWriteArrayList<>();
    /** Registered PIDs and the start time each had when registered (guards against PID reuse). */
    private final Map<Long, Long> registered = new ConcurrentHashMap<>();
    private final List<Process> tracked = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread shutdownHook;

    private TwoNodeLab(String prefix, String subnet, boolean withClient) {
        this.prefix = prefix;
        this.subnet = subnet;
        this.withClient = withClient;
        this.shutdownHook = new Thread(this::closeQuietly, "lab-cleanup-" + prefix);
    }

    /** A fresh namespace prefix: {@code fy} plus four random hex digits and a dash. */
    public static String randomPrefix() {
        byte[] bytes = new byte[2];
        new SecureRandom().nextBytes(bytes);
        return "fy" + HexFormat.of().formatHex(bytes) + "-";
    }

    /** Creates source and target nodes (no client node). */
    public static TwoNodeLab create(String prefix, String subnet) throws IOException {
        return create(prefix, subnet, false);
    }

    /**
     * Creates the switch, the source and target nodes and, if asked, the client node. On failure
     * everything created so far is deleted before the exception propagates.
     *
     * @param prefix namespace name prefix, e.g. {@code "fy1a2b-"}
     * @param subnet the first three octets of the lab's /24, e.g. {@code "10.231.7"}
     */
    public static TwoNodeLab create(String prefix, String subnet, boolean withClient) throws IOException {
        if (!PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("lab prefix: '" + prefix + "' (expected: [a-z0-9][a-z0-9-]{0,15})");
        }
        var m = SUBNET.matcher(subnet);
        if (!m.matches() || Integer.parseInt(m.group(1)) > 255 || Integer.parseInt(m.group(2)) > 255
                || Integer.parseInt(m.group(3)) > 255) {
            throw new IllegalArgumentException("lab subnet: '" + subnet + "' (expected: three octets like 10.231.7)");
        }
        TwoNodeLab lab = new TwoNodeLab(prefix, subnet, withClient);
        Runtime.getRuntime().addShutdownHook(lab.shutdownHook);
        try {
            lab.build();
        } catch (IOException | RuntimeException e) {
            lab.closeQuietly();
            throw e;
        }
        return lab;
    }

    private void build() throws IOException {
        String sw = switchNs();
        addNamespace(sw);
        runIn(sw, "ip", "link", "add", "br0", "type", "bridge");
        runIn(sw, "ip", "link", "set", "br0", "up");
        runIn(sw, "ip", "link", "set", "lo", "up");
        addNode(sourceNs(), "src", sourceIp());
        addNode(targetNs(), "dst", targetIp());
        if (withClient) {
            addNode(clientNs(), "cli", clientIp());
        }
    }

    private void addNode(String ns, String shortName, String ip) throws IOException {
        addNamespace(ns);
        String peer = "p-" + shortName;
        HostCommand.run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer,
                "netns", switchNs());
        runIn(switchNs(), "ip", "link", "set", peer, "master", "br0", "up");
        runIn(ns, "ip", "link", "set", "lo", "up");
        runIn(ns, "ip", "addr", "add", ip + "/24", "dev", "eth0");
        runIn(ns, "ip", "link", "set", "eth0", "up");
    }

    private void addNamespace(String ns) throws IOException {
        HostCommand.run("ip", "netns", "add", ns);
        namespaces.add(ns);
    }

    private void runIn(String ns, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("nsenter", "--net=" + netnsPath(ns)));
        full.addAll(List.of(command));
        HostCommand.run(full);
    }

    public String prefix() {
        return prefix;
    }

    public String switchNs() {
        return prefix + "sw";
    }

    public String sourceNs() {
        return prefix + "src";
    }

    public String targetNs() {
        return prefix + "dst";
    }

    /** The client node's namespace; only exists when the lab was created with a client. */
    public String clientNs() {
        if (!withClient) {
            throw new IllegalStateException("lab " + prefix + " was created without a client node");
        }
        return prefix + "cli";
    }

    public String sourceIp() {
        return subnet + ".1";
    }

    public String targetIp() {
        return subnet + ".2";
    }

    public String clientIp() {
        return subnet + ".10";
    }

    /** The namespace names this lab created, in creation order. */
    public List<String> namespaces() {
        return List.copyOf(namespaces);
    }

    /** {@code /run/netns/<ns>}. */
    public Path netnsPath(String ns) {
        return NETNS_DIR.resolve(Objects.requireNonNull(ns));
    }

    /**
     * A process builder running {@code command} inside node {@code ns}'s network namespace through
     * {@code nsenter --net=} (never {@code ip netns exec}, whose private mount namespace breaks CRIU).
     * nsenter execs the command, so the started process's PID is the command's PID.
     */
    public ProcessBuilder inNode(String ns, List<String> command) {
        List<String> full = new ArrayList<>(command.size() + 2);
        full.add("nsenter");
        full.add("--net=" + netnsPath(ns));
        full.addAll(command);
        return new ProcessBuilder(full);
    }

    /** True when process {@code pid} runs in node {@code ns}'s network namespace (same nsfs inode). */
    public boolean processInNode(long pid, String ns) {
        var nodeInode = ProcFs.inode(netnsPath(ns));
        var processInode = ProcFs.netNsInode(pid);
        return nodeInode.isPresent() && nodeInode.equals(processInode);
    }

    /**
     * Registers a PID the lab kills (SIGKILL) on close, unless it has exited or its PID was reused by
     * then. Returns the PID for chaining.
     */
    public long register(long pid) {
        ProcFs.startTime(pid).ifPresent(start -> registered.put(pid, start));
        return pid;
    }

    /** Tracks a child process (and its descendants) the lab kills on close. Returns it for chaining. */
    public Process track(Process process) {
        tracked.add(process);
        return process;
    }

    /** Forgets a registered PID (e.g. after it was killed by its owner). */
    public void unregister(long pid) {
        registered.remove(pid);
    }

    /**
     * Kills registered and tracked processes, waits for them to go, then deletes every namespace
     * this lab created. Idempotent. Failures to delete a namespace are reported after trying all.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // JVM shutdown in progress: we are (or run beside) the hook
        }
        List<Long> toWait = new ArrayList<>();
        for (Process process : tracked) {
            process.toHandle().descendants().forEach(h -> {
                h.destroyForcibly();
                toWait.add(h.pid());
            });
            process.destroyForcibly();
            toWait.add(process.pid());
        }
        registered.forEach((pid, start) -> {
            if (ProcFs.kill(pid, start)) {
                toWait.add(pid);
            }
        });
        try {
            for (long pid : toWait) {
                ProcFs.awaitGone(pid, 5_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<String> failures = new ArrayList<>();
        List<String> reversed = new ArrayList<>(namespaces);
        java.util.Collections.reverse(reversed);
        for (String ns : reversed) {
            try {
                HostCommand.Result result = HostCommand.exec(HostCommand.DEFAULT_TIMEOUT, List.of("ip", "netns", "del", ns));
                if (!result.ok() && NETNS_DIR.resolve(ns).toFile().exists()) {
                    failures.add(result.describe());
                }
            } catch (IOException e) {
                failures.add("ip netns del " + ns + ": " + e.getMessage());
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("lab " + prefix + " cleanup: " + String.join("; ", failures));
        }
    }

    /**
     * Gives up ownership: the namespaces and processes stay after this JVM exits ({@code ferry demo
     * --keep}); {@link #close()} and the shutdown hook then do nothing.
     */
    public void release() {
        if (closed.compareAndSet(false, true)) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // shutdown in progress
            }
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            System.err.println(e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "TwoNodeLab[" + prefix + " " + subnet + ".0/24]";
    }
}
