package dev.ferry.cli;

import dev.ferry.cli.lab.CriuLocator;
import dev.ferry.cli.lab.DemoScenario;
import dev.ferry.cli.lab.FerryJar;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.protocol.ExitCode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code ferry demo}: a live migration on one machine. Two network namespaces play the source and
 * target nodes, the daemons run in them, and a counter loop moves from one to the other through
 * {@code ferry dump --remote} and {@code ferry restore --remote}; then everything is torn down.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Migrate a counter loop between two network-namespace nodes on this machine, check that it "
                + "continued where it stopped, and clean up. Needs root and CRIU >= 4.2."})
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--keep", description = "Leave the namespaces, daemons, workload and work dir in place for inspection.")
    boolean keep;

    @Option(names = "--jar", paramLabel = "PATH", description = "ferry.jar to run the daemons and clients with "
            + "(default: the jar this command runs from).")
    Path jarOverride;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (ProcFs.effectiveUid() != 0) {
            err.println("ferry demo: needs root (it creates network namespaces and runs CRIU); run it as root, "
                    + "e.g. sudo ./ferry demo");
            return ExitCode.PERMISSION.code();
        }
        Optional<Path> jar = jarOverride != null ? Optional.of(jarOverride.toAbsolutePath()) : ownJar();
        if (jar.isEmpty() || !Files.isRegularFile(jar.get())) {
            err.println("ferry demo: cannot find ferry.jar (" + jar.map(Path::toString).orElse("not running from a jar")
                    + "); build it with mvn package or pass --jar PATH");
            return ExitCode.USAGE.code();
        }
        Path repo = repoRoot(jar.get());
        Optional<Path> criu = CriuLocator.find(repo);
        if (criu.isEmpty()) {
            err.println("ferry demo: CRIU not found ($FERRY_CRIU, " + repo.resolve(".criu/bin/criu")
                    + ", $PATH); run " + repo.resolve("scripts/install-criu"));
            return ExitCode.CRIU_MISSING.code();
        }
        Optional<int[]> version = CriuLocator.version(criu.get());
        if (version.isEmpty() || !CriuLocator.isSupported(version.get())) {
            err.println("ferry demo: " + criu.get() + " is CRIU " + version.map(CriuLocator::format).orElse("(unknown)")
                    + " (expected: >= 4.2); run " + repo.resolve("scripts/install-criu"));
            return ExitCode.CRIU_MISSING.code();
        }
        out.println("ferry demo: jar " + jar.get() + ", CRIU " + CriuLocator.format(version.get()) + " at " + criu.get());
        return new DemoScenario(FerryJar.of(jar.get()), criu.get(), keep, out, err).run();
    }

    /** The jar this class was loaded from, if it was loaded from a jar. */
    private static Optional<Path> ownJar() {
        try {
            Path location = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return location.toString().endsWith(".jar") ? Optional.of(location) : Optional.empty();
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    /** $FERRY_REPO, else the jar's directory's ../.. (the jar lives in {@code <repo>/cli/target}). */
    private static Path repoRoot(Path jar) {
        String env = System.getenv("FERRY_REPO");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        Path dir = jar.toAbsolutePath().getParent();
        Path root = dir == null || dir.getParent() == null ? null : dir.getParent().getParent();
        return root == null ? Path.of(".").toAbsolutePath() : root;
    }
}
