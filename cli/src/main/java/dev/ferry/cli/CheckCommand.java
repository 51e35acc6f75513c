package dev.ferry.cli;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuNotFoundException;
import dev.ferry.protocol.ExitCode;
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
import java.util.List;
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
        Boolean dirty = softDirty();
        out.println("soft-dirty:  " + (dirty == null ? "unknown (no /proc/config.gz)"
                : dirty ? "available (pre-copy possible)" : "not available (CRIU pre-dump will not work; stop-and-copy only)"));
        out.println("root:        " + ("root".equals(System.getProperty("user.name")) ? "yes" : "NO — ferry needs root"));
        Path rd = runDir.resolve();
        for (String sock : List.of("proxy.sock", "cache.sock")) {
            out.println(String.format("%-12s %s", sock + ":", Files.exists(rd.resolve(sock)) ? "present in " + rd : "absent in " + rd));
        }
        if (target != null) {
            String host = target;
            int port = dev.ferry.protocol.Wire.DEFAULT_PORT;
            int colon = target.lastIndexOf(':');
            if (colon > 0) {
                host = target.substring(0, colon);
                port = Integer.parseInt(target.substring(colon + 1));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 3000);
                out.println("peer:        " + host + ":" + port + " reachable");
            } catch (Exception e) {
                out.println("peer:        " + host + ":" + port + " UNREACHABLE — " + e.getMessage());
                worst = worst == ExitCode.OK ? ExitCode.PEER_UNREACHABLE : worst;
            }
        }
        out.flush();
        return worst.code();
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
