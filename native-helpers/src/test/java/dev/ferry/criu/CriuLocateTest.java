package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CriuLocateTest {

    @TempDir
    Path dir;

    private Path fakeCriu(String where, String version) throws IOException {
        Path bin = dir.resolve(where);
        Files.createDirectories(bin.getParent());
        Files.writeString(bin, "#!/bin/sh\necho 'Version: " + version + "'\necho 'GitID: v" + version + "'\n");
        Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    private Map<String, String> env(String ferryCriu, Path pathDir) {
        Map<String, String> env = new HashMap<>();
        if (ferryCriu != null) {
            env.put("FERRY_CRIU", ferryCriu);
        }
        env.put("PATH", dir.resolve("empty-bin") + ":" + (pathDir == null ? dir.resolve("nothing") : pathDir));
        return env;
    }

    @Test
    void explicitPathWinsOverEverythingElse() throws Exception {
        Path explicit = fakeCriu("explicit/criu", "4.2.1");
        Path fromEnv = fakeCriu("env/criu", "4.2.1");
        fakeCriu("project/.criu/bin/criu", "4.2.1");
        fakeCriu("bin/criu", "4.2.1");
        Criu criu = Criu.locate(explicit, env(fromEnv.toString(), dir.resolve("bin")), dir.resolve("project"));
        assertEquals(explicit, criu.executable());
        assertEquals("4.2.1", criu.version());
    }

    @Test
    void ferryCriuWinsOverPrefixAndPath() throws Exception {
        Path fromEnv = fakeCriu("env/criu", "4.2.1");
        fakeCriu("project/.criu/bin/criu", "4.2.1");
        fakeCriu("bin/criu", "4.2.1");
        assertEquals(fromEnv, Criu.locate(null, env(fromEnv.toString(), dir.resolve("bin")), dir.resolve("project")).executable());
    }

    @Test
    void prefixWinsOverPath() throws Exception {
        Path prefix = fakeCriu("project/.criu/bin/criu", "4.2.1");
        fakeCriu("bin/criu", "4.2.1");
        assertEquals(prefix, Criu.locate(null, env(null, dir.resolve("bin")), dir.resolve("project")).executable());
    }

    @Test
    void pathIsTheLastResort() throws Exception {
        Path onPath = fakeCriu("bin/criu", "4.3");
        Criu criu = Criu.locate(null, env(null, dir.resolve("bin")), dir.resolve("project"));
        assertEquals(onPath, criu.executable());
        assertEquals("4.3", criu.version());
    }

    @Test
    void refusesAnOldVersionAndSaysHowToFixIt() throws Exception {
        fakeCriu("bin/criu", "3.17.1");
        CriuNotFoundException e = assertThrows(CriuNotFoundException.class,
                () -> Criu.locate(null, env(null, dir.resolve("bin")), dir.resolve("project")));
        assertTrue(e.getMessage().contains("version 3.17.1 (expected: >= 4.2)"), e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve("bin/criu").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("run scripts/install-criu (as root)"), e.getMessage());
        assertTrue(e.getMessage().contains("--criu PATH / set FERRY_CRIU"), e.getMessage());
    }

    @Test
    void skipsAnOldPrefixForAGoodOneOnPath() throws Exception {
        fakeCriu("project/.criu/bin/criu", "4.1.1");
        Path onPath = fakeCriu("bin/criu", "4.2.1");
        assertEquals(onPath, Criu.locate(null, env(null, dir.resolve("bin")), dir.resolve("project")).executable());
    }

    @Test
    void refusesAnOldExplicitPathWithoutFallingBack() throws Exception {
        Path old = fakeCriu("explicit/criu", "4.1.1");
        fakeCriu("bin/criu", "4.2.1");
        CriuNotFoundException e = assertThrows(CriuNotFoundException.class,
                () -> Criu.locate(old, env(null, dir.resolve("bin")), null));
        assertTrue(e.getMessage().contains("--criu " + old), e.getMessage());
        assertTrue(e.getMessage().contains("version 4.1.1 (expected: >= 4.2)"), e.getMessage());
    }

    @Test
    void missingEverywhereNamesWhereItLooked() {
        CriuNotFoundException e = assertThrows(CriuNotFoundException.class,
                () -> Criu.locate(null, env(null, null), dir.resolve("project")));
        assertTrue(e.getMessage().contains(dir.resolve("project/.criu/bin/criu").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("in PATH"), e.getMessage());
        assertTrue(e.getMessage().contains("scripts/install-criu"), e.getMessage());
    }

    @Test
    void missingExplicitFileIsRefused() {
        CriuNotFoundException e = assertThrows(CriuNotFoundException.class,
                () -> Criu.locate(dir.resolve("nope/criu"), env(null, null), null));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void comparesVersionsNumerically() {
        assertTrue(Criu.compareVersions("4.10", "4.2") > 0);
        assertTrue(Criu.compareVersions("4.2.1", "4.2") > 0);
        assertEquals(0, Criu.compareVersions("4.2", "4.2.0"));
        assertTrue(Criu.compareVersions("4.1.1", "4.2") < 0);
        assertTrue(Criu.compareVersions("3.17.1", "4.2") < 0);
        assertTrue(Criu.compareVersions("4.2-rc1", "4.2") >= 0);
    }

    @Test
    void commandPutsTheExecutableFirst() {
        Criu criu = new Criu(Path.of("/opt/criu"), "4.2.1");
        assertEquals(java.util.List.of("/opt/criu", "dump", "-t", "1"), criu.command("dump", "-t", "1").command());
    }

    @Test
    void launcherRedirectsOutputIntoTheWorkDir() throws Exception {
        Path fake = fakeCriu("bin/criu", "4.2.1");
        Files.writeString(fake, "#!/bin/sh\necho \"args: $*\"\necho oops >&2\nexit 3\n");
        CriuProcess process = new Criu(fake, "4.2.1").launcher().start(java.util.List.of("dump", "-t", "42"), dir);
        assertTrue(process.waitFor(java.time.Duration.ofSeconds(10)));
        assertEquals(3, process.exitValue());
        String out = Files.readString(dir.resolve(Criu.OUTPUT_FILE));
        assertTrue(out.contains("args: dump -t 42") && out.contains("oops"), out);
    }
}
