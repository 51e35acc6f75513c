package dev.ferry.cli;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuNotFoundException;
import dev.ferry.criu.LazyPagesPipes;
import dev.ferry.criu.StateSupport;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.CheckRequest;
import dev.ferry.protocol.control.MigrateRequest;
import dev.ferry.protocol.control.NodeFacts;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.proxy.ProxyConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ferry check}: is this node ready? CRIU, kernel features, daemons, peers. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Preflight: CRIU path, version and 'criu check', kernel features, local daemons, peers.")
public final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--target", paramLabel = "HOST[:PORT]", description = "Also check that an image-cache answers there.")
    String target;

    @Mixin
    RunDirOption runDir;

    @Mixin
    CriuOption criuOption;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ExitCode worst = ExitCode.OK;
        Criu criu;
        try {
            criu = criuOption.locate();
            out.println("criu:        " + criu.executable() + " (version " + criu.version() + ")");
        } catch (CriuNotFoundException e) {
            out.println("criu:        MISSING — " + e.getMessage());
            out.flush();
            return ExitCode.CRIU_MISSING.code();
        }
        Criu.CheckResult check;
        try {
            check = criu.check();
        } catch (java.io.IOException e) {
            check = new Criu.CheckResult(false, String.valueOf(e.getMessage()));
        }
        out.println("criu check:  " + (check.ok() ? "ok" : "FAILED") + " — " + check.output().strip().replace("\n", "\n             "));
        if (!check.ok()) {
            worst = ExitCode.CRIU_FAILED;
        }
        out.println("kernel:      " + System.getProperty("os.version"));
        out.println("userfaultfd: " + (Files.exists(Path.of("/proc/sys/vm/unprivileged_userfaultfd")) || Files.exists(Path.of("/dev/userfaultfd"))
                ? "available (post-copy possible)" : "not found"));
        String pipeProblem = LazyPagesPipes.problem();
        out.println("pipe-max:    " + (pipeProblem == null ? "fs.pipe-max-size " + dev.ferry.posix.Pipes.maxPipeSize()
                + " (ok for --lazy as a source)" : pipeProblem));
        Boolean dirty = softDirty();
        out.println("soft-dirty:  " + (dirty == null ? "unknown (no /proc/config.gz)"
                : dirty ? "available (pre-copy possible)" : "not available (CRIU pre-dump will not work; stop-and-copy only)"));
        out.println("root:        " + ("root".equals(System.getProperty("user.name")) ? "yes" : "NO — ferry needs root"));
        Path rd = runDir.resolve();
        for (String sock : List.of("proxy.sock", "cache.sock")) {
            out.println(String.format("%-12s %s", sock + ":", Files.exists(rd.resolve(sock)) ? "present in " + rd : "absent in " + rd));
        }
        List<StateSupport> here = StateSupport.probe(criu);
        Map<String, StateSupport> there = null;
        if (target != null) {
            TargetAnswer answer = askTarget(target);
            out.println("peer:        " + answer.line());
            if (answer.exit() != ExitCode.OK) {
                worst = worst == ExitCode.OK ? answer.exit() : worst;
            }
            there = answer.states();
        }
        out.println(there == null ? "state support (this node):" : "state support (this node, target):");
        for (StateSupport s : here) {
            StateSupport t = there == null ? null : there.get(s.state());
            String targetCell = there == null ? "" : String.format(" %-7s", t == null ? "unknown" : t.supported() ? "yes" : "NO");
            String needs = s.needs();
            if (t != null && !t.supported()) {
                needs += "; target: " + t.needs();
            }
            out.println(String.format("  %-16s %-4s%s %s", s.state(), s.supported() ? "yes" : "NO", targetCell, needs));
        }
        out.flush();
        return worst.code();
    }

    /** What the target said: the {@code peer:} line, the exit code it adds, and its states by name (null if none). */
    record TargetAnswer(String line, ExitCode exit, Map<String, StateSupport> states) {
    }

    /**
     * Asks the local image-proxy to say hello to the image-cache at {@code hostPort} (with the proxy's TLS settings)
     * and return the cache's facts; without a proxy here, only whether the port answers.
     */
    private TargetAnswer askTarget(String hostPort) {
        MigrateRequest.Builder parsed = MigrateRequest.newBuilder();
        String problem = MigrateCommand.setTarget(parsed, hostPort);
        if (problem != null) {
            return new TargetAnswer(hostPort + ": " + problem, ExitCode.USAGE, null);
        }
        CheckRequest.Builder b = CheckRequest.newBuilder().setToHost(parsed.getToHost()).setToPort(parsed.getToPort());
        int port = parsed.getToPort() == 0 ? dev.ferry.protocol.Wire.DEFAULT_PORT : parsed.getToPort();
        if (!Files.exists(runDir.resolve().resolve(ProxyConfig.CONTROL_SOCKET))) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(parsed.getToHost(), port), 3000);
                return new TargetAnswer(parsed.getToHost() + ":" + port + " reachable (no image-proxy in "
                        + runDir.resolve() + " to ask the image-cache there for its state support)", ExitCode.OK, null);
            } catch (Exception e) {
                return new TargetAnswer(parsed.getToHost() + ":" + port + " UNREACHABLE — " + e.getMessage(),
                        ExitCode.PEER_UNREACHABLE, null);
            }
        }
        Result r = new ClientOutput(new PrintWriter(java.io.Writer.nullWriter()), new PrintWriter(java.io.Writer.nullWriter()),
                "ferry check").askProxy(runDir, Request.newBuilder().setCheck(b).build());
        if (!r.getOk() || !r.hasTargetFacts()) {
            return new TargetAnswer(parsed.getToHost() + ":" + port + " FAILED — " + r.getMessage(),
                    ExitCode.fromCode(r.getExitCode()), null);
        }
        NodeFacts facts = r.getTargetFacts();
        Map<String, StateSupport> states = new LinkedHashMap<>();
        for (var s : facts.getStatesList()) {
            states.put(s.getState(), StateSupport.fromProto(s));
        }
        return new TargetAnswer(r.getTarget() + " image-cache " + facts.getNode() + ", criu " + facts.getCriuVersion(),
                ExitCode.OK, states);
    }

    /** Whether the kernel config enables soft-dirty tracking; null when /proc/config.gz is not there. */
    private static Boolean softDirty() {
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(Path.of("/proc/config.gz")))) {
            String config = new String(in.readAllBytes());
            return config.contains("CONFIG_MEM_SOFT_DIRTY=y");
        } catch (Exception e) {
            return null;
        }
    }
}
