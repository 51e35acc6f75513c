package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryDaemons;
import dev.ferry.cli.lab.FerryJar;
import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.FerryRun;
import dev.ferry.cli.lab.LogTail;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.ScratchDir;
import dev.ferry.cli.lab.TwoNodeLab;
import dev.ferry.cli.lab.Workload;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * One test class's world: a {@link TwoNodeLab} with its own prefix and subnet, a scratch dir
 * ({@code /tmp/fy-XXXX}), the ferry daemons, and the workloads and restored processes of the
 * running test. Owns all of them: {@link #killProcesses()} after each test, {@link #close()} after
 * the class (daemon and CRIU logs are copied to {@code target/it-logs/<class>} first).
 */
final class LabFixture implements AutoCloseable {

    static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(120);

    private final String name;
    private final Path criu;
    private final FerryJar jar;
    private final TwoNodeLab lab;
    private final Path base;
    private final FerryDaemons daemons;
    private final List<Workload> workloads = new CopyOnWriteArrayList<>();
    private final List<Long> restored = new CopyOnWriteArrayList<>();
    private final List<Process> helpers = new CopyOnWriteArrayList<>();

    private LabFixture(String name, Path criu, TwoNodeLab lab, Path base) throws IOException {
        this.name = name;
        this.criu = criu;
        this.jar = FerryJar.of(ItEnvironment.jar());
        this.lab = lab;
        this.base = base;
        this.daemons = new FerryDaemons(lab, jar, criu, base, FerryDaemons.DEFAULT_PORT);
    }

    /**
     * Checks the environment, then builds the lab on {@code 10.231.<octet>.0/24} (one octet per
     * test class, so classes never share a subnet) with a fresh prefix. Daemons are not started.
     */
    static LabFixture create(Class<?> testClass, int octet) throws IOException {
        return create(testClass, octet, false);
    }

    /** Like {@link #create(Class, int)}, with a client node if asked. */
    static LabFixture create(Class<?> testClass, int octet, boolean clientNode) throws IOException {
        Path criu = ItEnvironment.requireRootCriuAndJar();
        Path base = ScratchDir.create();
        TwoNodeLab lab;
        try {
            lab = TwoNodeLab.create(TwoNodeLab.randomPrefix(), "10.231." + octet, clientNode);
        } catch (IOException | RuntimeException e) {
            ScratchDir.deleteRecursively(base);
            throw e;
        }
        return new LabFixture(testClass.getSimpleName(), criu, lab, base);
    }

    TwoNodeLab lab() {
        return lab;
    }

    FerryDaemons daemons() {
        return daemons;
    }

    Path criu() {
        return criu;
    }

    /** A path in the scratch dir. */
    Path path(String file) {
        return base.resolve(file);
    }

    /** Copies a workload script from the test resources ({@code /workloads/NAME}) into the scratch dir. */
    Path script(String resource) throws IOException {
        Path target = base.resolve(resource);
        try (InputStream in = LabFixture.class.getResourceAsStream("/workloads/" + resource)) {
            if (in == null) {
                throw new IOException("missing test resource /workloads/" + resource);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    /** Starts a workload in the source node, in its own PID namespace. */
    Workload startWorkload(List<String> command, Path log) throws IOException, InterruptedException {
        Workload workload = Workload.start(lab, lab.sourceNs(), command, log);
        workloads.add(workload);
        return workload;
    }

    /** {@code ferry dump -t PID -D NAME --remote --run-dir <source run dir> extra...}, run in the source node. */
    FerryRun startDump(long pid, String snapshot, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("dump", "-t", Long.toString(pid), "-D", snapshot, "--remote",
                "--run-dir", daemons.sourceRunDir().toString()));
        args.addAll(List.of(extra));
        return jar.start(lab, lab.sourceNs(), args, echo("dump " + snapshot));
    }

    FerryResult dump(long pid, String snapshot, String... extra) throws IOException, InterruptedException {
        return startDump(pid, snapshot, extra).await(CLIENT_TIMEOUT);
    }

    /**
     * Starts {@code ferry migrate -t PID --run-dir <source run dir> extra...} in the source node and returns at once,
     * for tests that act while it runs; the lab tracks the client process.
     */
    FerryRun startMigrate(long pid, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("migrate", "-t", Long.toString(pid),
                "--run-dir", daemons.sourceRunDir().toString()));
        args.addAll(List.of(extra));
        return jar.start(lab, lab.sourceNs(), args, echo("migrate " + pid));
    }

    /** {@code ferry migrate -t PID --run-dir <source run dir> extra...}, run in the source node to its end. */
    FerryResult migrate(long pid, String... extra) throws IOException, InterruptedException {
        return startMigrate(pid, extra).await(CLIENT_TIMEOUT);
    }

    /** Starts a helper process (a client) in node {@code ns}, output to {@code log}; killed after the test. */
    Process startIn(String ns, List<String> command, Path log) throws IOException {
        Process p = lab.inNode(ns, command)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true)
                .start();
        lab.track(p);
        helpers.add(p);
        return p;
    }

    /** Runs a command in node {@code ns} to its end (10 s at most) and returns its output; fails on non-zero exit. */
    String runIn(String ns, String... command) throws IOException, InterruptedException {
        Process p = lab.inNode(ns, List.of(command)).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " in " + ns + " did not finish in 10 s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " in " + ns + " exited " + p.exitValue() + ": " + out);
        }
        return out;
    }

    /** Takes ownership of a PID found some other way (e.g. a migrated process); killed after the test. */
    long adopt(long pid) {
        lab.register(pid);
        restored.add(pid);
        return pid;
    }

    /**
     * {@code ferry restore -D NAME --remote -d --pidfile FILE --run-dir <target run dir> extra...}, run in
     * the target node. The pidfile is deleted first (CRIU opens it with O_EXCL).
     */
    FerryResult restore(String snapshot, Path pidfile, String... extra) throws IOException, InterruptedException {
        Files.deleteIfExists(pidfile);
        List<String> args = new ArrayList<>(List.of("restore", "-D", snapshot, "--remote", "-d", "--pidfile",
                pidfile.toString(), "--run-dir", daemons.targetRunDir().toString()));
        args.addAll(List.of(extra));
        return jar.run(lab, lab.targetNs(), CLIENT_TIMEOUT, echo("restore " + snapshot), args);
    }

    /** Reads the restored root's PID from {@code pidfile} and takes ownership of it (killed after the test). */
    long restoredPid(Path pidfile) throws IOException {
        assertTrue(Files.isRegularFile(pidfile), () -> "ferry restore exited 0 but wrote no pidfile " + pidfile
                + "\n" + diagnostics());
        long pid = Long.parseLong(Files.readString(pidfile).trim());
        lab.register(pid);
        restored.add(pid);
        return pid;
    }

    /** {@code ferry args...} in node {@code ns} (a client command: images, restore, ...), echoed to stdout. */
    FerryResult ferry(String ns, List<String> args) throws IOException, InterruptedException {
        return jar.run(lab, ns, CLIENT_TIMEOUT, echo(String.join(" ", args.subList(0, Math.min(2, args.size())))), args);
    }

    private static FerryRun.LineListener echo(String tag) {
        return (stderr, line) -> System.out.println("[" + tag + (stderr ? " err] " : "] ") + line);
    }

    /** Every {@code *.img} file under both run dirs and the scratch dir. */
    List<Path> imageFiles() throws IOException {
        List<Path> images = new ArrayList<>(ScratchDir.findFiles(daemons.sourceRunDir(), ".img"));
        images.addAll(ScratchDir.findFiles(daemons.targetRunDir(), ".img"));
        for (Path p : ScratchDir.findFiles(base, ".img")) {
            if (!images.contains(p)) {
                images.add(p);
            }
        }
        return images;
    }

    /**
     * Daemon log tails plus, for every other {@code *.log} under the scratch dir (CRIU logs, workload
     * logs), its {@code Error} lines and tail; for assertion messages.
     */
    String diagnostics() {
        StringBuilder sb = new StringBuilder("\n---- diagnostics (" + name + ", lab " + lab.prefix() + ", dir " + base
                + ") ----\n");
        sb.append(daemons.logTails(40)).append('\n');
        for (Path log : otherLogs()) {
            String errors = LogTail.grep(log, "Error", 15);
            sb.append("log ").append(log).append(":\n");
            if (!errors.isBlank()) {
                sb.append(" Error lines:\n").append(errors).append('\n').append(" tail:\n");
            }
            sb.append(LogTail.of(log, 15)).append('\n');
        }
        return sb.toString();
    }

    private List<Path> otherLogs() {
        try (Stream<Path> walk = Files.walk(base)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".log") && Files.isRegularFile(p))
                    .filter(p -> !p.equals(daemons.cacheLog()) && !p.equals(daemons.proxyLog()))
                    .limit(20).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Kills every workload and restored process of the current test (by PID); the daemons stay up. */
    void killProcesses() throws InterruptedException {
        for (Workload w : workloads) {
            w.kill();
        }
        workloads.clear();
        for (Process p : helpers) {
            p.destroyForcibly();
            p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        helpers.clear();
        for (long pid : restored) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            ProcFs.awaitGone(pid, 5_000);
            lab.unregister(pid);
        }
        restored.clear();
    }

    /** Kills test processes, stops the daemons, keeps the logs, deletes the lab and the scratch dir. */
    @Override
    public void close() throws Exception {
        try {
            killProcesses();
        } finally {
            try {
                daemons.close();
            } finally {
                try {
                    keepLogs();
                    lab.close();
                } finally {
                    ScratchDir.deleteRecursively(base);
                }
            }
        }
    }

    private void keepLogs() {
        Path into = Path.of(System.getProperty("ferry.it.logs", "target/it-logs")).resolve(name);
        try (Stream<Path> walk = Files.walk(base)) {
            Files.createDirectories(into);
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                String file = p.getFileName().toString();
                if (file.endsWith(".log") || file.endsWith(".out")) {
                    Path rel = base.relativize(p);
                    Path target = into.resolve(rel.toString().replace('/', '_'));
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            System.err.println("it-tests: could not keep logs in " + into + ": " + e.getMessage());
        }
    }
}
