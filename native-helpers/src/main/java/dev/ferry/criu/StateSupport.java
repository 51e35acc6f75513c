package dev.ferry.criu;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Which kinds of process state this node can checkpoint and restore: for each kind, the {@code criu check --feature}
 * or kernel fact behind it (docs/migrate.md, What each kind of state needs). Immutable.
 *
 * @param state     the kind of state, named by its CRIU option where it has one ({@code file-locks}, {@code ext-unix-sk})
 * @param supported whether every requirement holds here
 * @param needs     what it needs, and what was found when it is missing
 */
public record StateSupport(String state, boolean supported, String needs) {

    /** The kinds of state, in the order {@code ferry check} prints them, and the CRIU feature each needs (or null). */
    static final Map<String, String> FEATURES = features();

    private static final long FEATURE_TIMEOUT_SECONDS = 30;

    private static Map<String, String> features() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("shell-job", null);
        m.put("unix-sockets", "sk_unix_file");
        m.put("ext-unix-sk", "sk_unix_file");
        m.put("file-locks", "fdinfo_lock");
        m.put("cgroup-v2", "cgroupns");
        m.put("threads", "get_rseq_conf");
        m.put("pipes-fifos", null);
        m.put("timers", "timerfd");
        m.put("tcp-established", "tcp_half_closed");
        return m;
    }

    /**
     * Probes this node: one {@code criu check --feature F} per feature, run at once (CRIU takes only the last
     * {@code --feature} of a command line), plus the mounts for cgroup v2.
     */
    public static List<StateSupport> probe(Criu criu) {
        Map<String, CompletableFuture<String>> checks = new LinkedHashMap<>();
        for (String feature : FEATURES.values()) {
            if (feature != null) {
                checks.computeIfAbsent(feature, f -> CompletableFuture.supplyAsync(() -> checkFeature(criu, f)));
            }
        }
        boolean cgroup2 = cgroup2Mount() != null;
        List<StateSupport> result = new ArrayList<>();
        for (Map.Entry<String, String> e : FEATURES.entrySet()) {
            String feature = e.getValue();
            String problem = feature == null ? null : checks.get(feature).join();
            String needs = feature == null ? "nothing beyond `criu check`" : "criu feature " + feature;
            if (e.getKey().equals("cgroup-v2")) {
                needs += ", a cgroup2 mount";
                if (!cgroup2 && problem == null) {
                    problem = "no cgroup2 mount in /proc/self/mounts";
                }
            }
            if (e.getKey().equals("shell-job")) {
                needs = "a pseudo-terminal (/dev/ptmx): the image-cache restores the job on one it holds";
                problem = ptyProblem();
            }
            result.add(new StateSupport(e.getKey(), problem == null, problem == null ? needs : needs + ": " + problem));
        }
        return List.copyOf(result);
    }

    /** This node's facts as the wire carries them: its name, CRIU's version and {@link #probe}. */
    public static dev.ferry.protocol.control.NodeFacts nodeFacts(String node, Criu criu) {
        var b = dev.ferry.protocol.control.NodeFacts.newBuilder().setNode(node).setCriuVersion(criu.version());
        for (StateSupport s : probe(criu)) {
            b.addStates(s.toProto());
        }
        return b.build();
    }

    public dev.ferry.protocol.control.StateSupport toProto() {
        return dev.ferry.protocol.control.StateSupport.newBuilder()
                .setState(state).setSupported(supported).setNeeds(needs).build();
    }

    public static StateSupport fromProto(dev.ferry.protocol.control.StateSupport p) {
        return new StateSupport(p.getState(), p.getSupported(), p.getNeeds());
    }

    /** Null when this process can open a pseudo-terminal pair; else why not. */
    static String ptyProblem() {
        try (dev.ferry.posix.PseudoTerminal pty = dev.ferry.posix.PseudoTerminal.open()) {
            return null;
        } catch (IOException | RuntimeException | LinkageError e) {
            return e.getMessage();
        }
    }

    /** Null when {@code criu check --feature feature} says it is supported; else what CRIU said. */
    static String checkFeature(Criu criu, String feature) {
        try {
            Process p = criu.command("check", "--feature", feature)
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(FEATURE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "`criu check --feature " + feature + "` did not finish in " + FEATURE_TIMEOUT_SECONDS + " s";
            }
            return parseFeature(feature, p.exitValue(), out);
        } catch (IOException e) {
            return "cannot run `criu check --feature " + feature + "`: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** Null when CRIU's output says {@code FEATURE is supported} and it exited 0; else its last meaningful line. */
    static String parseFeature(String feature, int exit, String output) {
        if (exit == 0 && output.contains(feature + " is supported")) {
            return null;
        }
        String last = "exit " + exit;
        for (String line : output.split("\n")) {
            String l = line.strip();
            if (!l.isEmpty() && !l.contains("Hardware breakpoints") && !l.contains("RLIMIT_NOFILE")) {
                last = l;
            }
        }
        return "not supported (" + last + ")";
    }

    /** Where cgroup2 is mounted, or null. */
    static Path cgroup2Mount() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
                String[] f = line.split(" ");
                if (f.length > 2 && f[2].equals("cgroup2")) {
                    return Path.of(f[1]);
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }
}
