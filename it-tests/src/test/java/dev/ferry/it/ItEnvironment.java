package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.cli.lab.CriuLocator;
import dev.ferry.cli.lab.ProcFs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What every end-to-end test needs from the machine: root, CRIU >= 4.2, and the built
 * {@code ferry.jar}. Missing any of them fails the test class loudly; it never skips.
 */
final class ItEnvironment {

    static final String NEEDS = "it-tests need root and CRIU >= 4.2: run scripts/install-criu";

    private ItEnvironment() {
    }

    /** The repository root: system property {@code ferry.repo}, else the parent of the module dir. */
    static Path repo() {
        String property = System.getProperty("ferry.repo");
        return property != null && !property.isBlank() ? Path.of(property)
                : Path.of("").toAbsolutePath().getParent();
    }

    /** The shaded jar under test: system property {@code ferry.jar}, else {@code <repo>/cli/target/ferry.jar}. */
    static Path jar() {
        String property = System.getProperty("ferry.jar");
        return property != null && !property.isBlank() ? Path.of(property) : repo().resolve("cli/target/ferry.jar");
    }

    /**
     * Asserts root, CRIU >= 4.2 and the jar, and returns CRIU's path: {@code <repo>/.criu/bin/criu},
     * then {@code $FERRY_CRIU}, then {@code criu} on the PATH.
     */
    static Path requireRootCriuAndJar() {
        long uid = ProcFs.effectiveUid();
        assertTrue(uid == 0, NEEDS + " (running as uid " + uid + ", not root)");
        Path installed = repo().resolve(".criu/bin/criu");
        Optional<Path> criu = Files.isExecutable(installed) ? Optional.of(installed) : CriuLocator.find(null);
        if (criu.isEmpty()) {
            fail(NEEDS + " (no CRIU at " + installed + ", $FERRY_CRIU or on the PATH)");
        }
        Optional<int[]> version = CriuLocator.version(criu.get());
        assertTrue(version.isPresent() && CriuLocator.isSupported(version.get()), NEEDS + " (" + criu.get()
                + " reports version " + version.map(CriuLocator::format).orElse("(unreadable)") + ")");
        assertTrue(Files.isRegularFile(jar()), "ferry.jar not found at " + jar()
                + ": build the cli module first (mvn -B -o package), it-tests run against the shaded jar");
        for (String tool : new String[] {"/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/setsid"}) {
            assertTrue(Files.isExecutable(Path.of(tool)), "it-tests need " + tool + " (util-linux)");
        }
        return criu.get();
    }

    /** Asserts that /usr/bin/python3 exists (the memory and TCP workloads are Python programs). */
    static Path requirePython() {
        Path python = Path.of("/usr/bin/python3");
        assertTrue(Files.isExecutable(python), "this test needs " + python + " for its workload");
        return python;
    }
}
