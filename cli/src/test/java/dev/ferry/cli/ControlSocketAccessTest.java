package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlAccess;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.control.Results;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who may use a control socket, with real processes: the real {@code ferry restore} runs in a second JVM
 * as user {@code nobody} (group {@code nogroup}, no supplementary groups; through {@code setpriv}) against a
 * control socket served in this JVM (root). Root only by default; {@code --control-group nogroup} lets it in.
 */
class ControlSocketAccessTest {

    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final Logger SERVER_LOG = Logger.getLogger(ControlServer.class.getName());

    @TempDir
    Path dir;

    private Path runDir;
    private Path classes;
    private ControlServer server;
    private final List<String> warnings = new ArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                synchronized (warnings) {
                    warnings.add(r.getMessage());
                }
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private final AtomicInteger handled = new AtomicInteger();

    @BeforeEach
    void setUp() throws IOException {
        // prerequisites fail loudly, never skip: the project runs its tests as root (scripts/test)
        assertTrue("root".equals(System.getProperty("user.name")), "needs root (to run a client as nobody): run the tests as root");
        assertTrue(Files.isExecutable(SETPRIV), "needs setpriv: scripts/install-criu installs util-linux");
        assertTrue(groupExists("nogroup") && userExists("nobody"), "needs user nobody and group nogroup");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nobody may traverse
        runDir = dir.resolve("run");
        classes = copyClassPath(dir.resolve("cp"));
        SERVER_LOG.addHandler(capture);
    }

    @AfterEach
    void tearDown() {
        SERVER_LOG.removeHandler(capture);
        if (server != null) {
            server.close();
        }
    }

    private void serve(ControlAccess access) throws IOException {
        server = ControlServer.start(runDir, "cache.sock", "test-cache", access, (request, session) -> {
            handled.incrementAndGet();
            session.result(Results.success("restored " + request.getRestore().getSnapshot() + " as pid 4242")
                    .setRestoredPid(4242).build());
        });
    }

    @Test
    void nonRootCallerIsRefusedByDefault() throws Exception {
        serve(ControlAccess.rootOnly());
        assertEquals("rwx------", perms(runDir));
        assertEquals("rw-------", perms(runDir.resolve("cache.sock")));

        Run r = restoreAsNobody();
        assertEquals(ExitCode.PERMISSION.code(), r.exit, r.toString());
        assertTrue(r.err.contains("nobody"), r.toString());
        assertTrue(r.err.contains("--control-group"), r.toString());
        assertTrue(r.err.contains("run ferry as root"), r.toString());
        assertEquals(0, handled.get(), "the request never reached the handler");
    }

    @Test
    void peerCredentialsRefuseANonRootCallerEvenIfTheSocketIsOpenedUp() throws Exception {
        serve(ControlAccess.rootOnly());
        // someone loosened the modes by hand: SO_PEERCRED still keeps nobody out
        Files.setPosixFilePermissions(runDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(runDir.resolve("cache.sock"), PosixFilePermissions.fromString("rw-rw-rw-"));

        Run r = restoreAsNobody();
        assertEquals(ExitCode.PERMISSION.code(), r.exit, r.toString());
        assertTrue(r.err.contains("refused user nobody"), r.toString());
        assertTrue(r.err.contains("group nogroup"), r.toString());
        assertTrue(r.err.contains("--control-group"), r.toString());
        assertEquals(0, handled.get(), "the request never reached the handler");
        synchronized (warnings) {
            assertTrue(warnings.stream().anyMatch(w -> w.contains("refused caller user=nobody group=nogroup")),
                    warnings.toString());
        }
    }

    @Test
    void controlGroupLetsItsMembersIn() throws Exception {
        serve(ControlAccess.forGroup("nogroup"));
        assertEquals("rwxr-x---", perms(runDir));
        assertEquals("rw-rw----", perms(runDir.resolve("cache.sock")));
        assertEquals("nogroup", Files.readAttributes(runDir, PosixFileAttributes.class).group().getName());
        assertEquals("nogroup", Files.readAttributes(runDir.resolve("cache.sock"), PosixFileAttributes.class).group().getName());

        Run r = restoreAsNobody();
        assertEquals(ExitCode.OK.code(), r.exit, r.toString());
        assertTrue(r.out.contains("restored web1 as pid 4242"), r.toString());
        assertEquals(1, handled.get());
    }

    @Test
    void callerOutsideTheControlGroupIsRefusedAndToldWhichGroupToJoin() throws Exception {
        assertTrue(groupExists("users"), "needs group users");
        serve(ControlAccess.forGroup("users")); // nobody runs as nogroup, without supplementary groups

        Run r = restoreAsNobody();
        assertEquals(ExitCode.PERMISSION.code(), r.exit, r.toString());
        assertTrue(r.err.contains("permission denied for user nobody"), r.toString());
        assertTrue(r.err.contains("usermod -aG users nobody"), r.toString());
        assertEquals(0, handled.get(), "the request never reached the handler");
    }

    private record Run(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\nstdout: " + out + "\nstderr: " + err;
        }
    }

    /** {@code ferry restore -D web1 --remote --run-dir RUN} in a fresh JVM as nobody:nogroup, no other groups. */
    private Run restoreAsNobody() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(SETPRIV.toString(), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:-UsePerfData", "-Xshare:auto", "-Duser.home=" + dir,
                "-cp", classes.toString(), "dev.ferry.cli.Main",
                "restore", "-D", "web1", "--remote", "--run-dir", runDir.toString()));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).start();
        CompletableFuture<String> out = read(p.getInputStream());
        CompletableFuture<String> err = read(p.getErrorStream());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the client finished in time");
        return new Run(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
    }

    private static CompletableFuture<String> read(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try (in) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "<" + e + ">";
            }
        });
    }

    /**
     * Copies this JVM's class path (expanding surefire's manifest-only jar) to {@code to}, readable by
     * everyone: the originals may live under /root, which nobody cannot read. Returns the new class path.
     */
    private static Path copyClassPath(Path to) throws IOException {
        Files.createDirectories(to);
        List<String> copies = new ArrayList<>();
        int n = 0;
        for (Path entry : classPathEntries()) {
            if (!Files.exists(entry) || entry.getFileName().toString().contains("surefire")) {
                continue;
            }
            Path copy = to.resolve((n++) + "-" + entry.getFileName());
            if (Files.isDirectory(entry)) {
                try (Stream<Path> tree = Files.walk(entry)) {
                    for (Path p : (Iterable<Path>) tree::iterator) {
                        Path target = copy.resolve(entry.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(target);
                        } else {
                            Files.copy(p, target);
                        }
                    }
                }
            } else {
                Files.copy(entry, copy);
            }
            copies.add(copy.toString());
        }
        try (Stream<Path> tree = Files.walk(to)) {
            for (Path p : (Iterable<Path>) tree::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return Path.of(String.join(File.pathSeparator, copies));
    }

    private static List<Path> classPathEntries() throws IOException {
        List<Path> entries = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(e);
            entries.add(p);
            if (p.getFileName().toString().startsWith("surefirebooter") && Files.isRegularFile(p)) {
                try (JarFile jar = new JarFile(p.toFile())) {
                    Manifest m = jar.getManifest();
                    String cp = m == null ? null : m.getMainAttributes().getValue("Class-Path");
                    if (cp != null) {
                        for (String url : cp.trim().split("\\s+")) {
                            entries.add(Path.of(URI.create(url)));
                        }
                    }
                }
            }
        }
        return entries;
    }

    private static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private static boolean groupExists(String name) {
        try {
            ControlAccess.forGroup(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static boolean userExists(String name) {
        try {
            java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(name);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
