package dev.ferry.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuLauncher;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.ScriptedCriu;
import dev.ferry.protocol.image.SnapshotName;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class JobTerminalTest {

    private static final SnapshotName NAME = SnapshotName.of("web1");

    @TempDir
    Path root;

    private JobTerminals terminals;

    @AfterEach
    void closeTerminals() {
        if (terminals != null) {
            terminals.close();
        }
    }

    @Test
    void drainsTheJobsOutputIntoItsLogAndClosesOnceNobodyHoldsTheTerminal() throws Exception {
        terminals = new JobTerminals(root.resolve("terminals"));
        JobTerminal t = terminals.open(NAME, "r-1");
        assertEquals(root.resolve("terminals/web1-r-1.log"), t.log());
        Process job = onTerminal(t.slave(), "echo one; sleep 0.3; echo two");
        t.attach();
        assertTrue(job.waitFor(10, TimeUnit.SECONDS));
        t.closed().get(10, TimeUnit.SECONDS);
        assertEquals("one\r\ntwo\r\n", Files.readString(t.log()));
        assertEquals(List.of(), terminals.openTerminals(), "a closed terminal is still listed");
    }

    @Test
    void aHangUpBeforeTheRestoreSucceededDoesNotEndTheTerminal() throws Exception {
        terminals = new JobTerminals(root);
        JobTerminal t = terminals.open(NAME, "r-2");
        Thread.sleep(600); // nobody has the slave open: the kernel reports a hang-up all along
        assertTrue(t.isOpen(), "the terminal ended before CRIU could open it");
        Process job = onTerminal(t.slave(), "echo late");
        assertTrue(job.waitFor(10, TimeUnit.SECONDS));
        t.close();
        assertFalse(t.isOpen());
        assertEquals("late\r\n", Files.readString(t.log()), "what was written before close() was not drained");
    }

    @Test
    void closeEndsTheTerminalEvenWhileItsJobKeepsWriting() throws Exception {
        terminals = new JobTerminals(root);
        JobTerminal t = terminals.open(NAME, "r-3");
        Process job = onTerminal(t.slave(), "while :; do echo flood flood flood flood flood flood flood; done");
        try {
            t.attach();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (t.bytesRead() < (64 << 10) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(t.bytesRead() >= (64 << 10), "the job's output was not drained: " + t.bytesRead() + " bytes");
            t.close();
            assertFalse(t.isOpen(), "close() did not end the terminal of a job that keeps writing");
        } finally {
            job.destroyForcibly();
        }
    }

    @Test
    void closingTheRegistryClosesEveryTerminalAndRefusesNewOnes() throws Exception {
        terminals = new JobTerminals(root);
        JobTerminal a = terminals.open(NAME, "r-a");
        JobTerminal b = terminals.open(SnapshotName.of("web2"), "r-b");
        Process job = onTerminal(a.slave(), "sleep 30");
        try {
            a.attach();
            b.attach();
            terminals.close();
            assertFalse(a.isOpen(), "a terminal whose job still runs was not closed");
            assertFalse(b.isOpen());
            assertThrows(IOException.class, () -> terminals.open(NAME, "r-c"));
        } finally {
            job.destroyForcibly();
        }
    }

    @Test
    void aShellJobRestoreStartsCriuOnATerminalAndHandsItOver() throws Exception {
        terminals = new JobTerminals(root.resolve("terminals"));
        AtomicReference<Path> given = new AtomicReference<>();
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            Files.writeString(wd.resolve("restored.pid"), "7");
            return 0;
        });
        RestoreOutcome outcome = new RestoreEngine(recording(criu, given), root.resolve("work"), terminals)
                .restore(shellJob(), new MapSource(), RestoreListener.NONE);
        criu.assertScriptOk();
        assertNotNull(outcome.terminal(), "a shell-job restore has no terminal");
        assertEquals(outcome.terminal().slave(), given.get(), "CRIU was not started on the job's terminal");
        assertTrue(outcome.terminal().isOpen(), "the terminal was closed although the restore succeeded");
        assertEquals(List.of(outcome.terminal()), terminals.openTerminals());
        terminals.close();
        assertFalse(outcome.terminal().isOpen());
    }

    @Test
    void aFailedShellJobRestoreClosesItsTerminal() throws Exception {
        terminals = new JobTerminals(root.resolve("terminals"));
        AtomicReference<Path> given = new AtomicReference<>();
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            return 1;
        });
        assertThrows(CriuException.class, () -> new RestoreEngine(recording(criu, given), root.resolve("work"),
                terminals).restore(shellJob(), new MapSource(), RestoreListener.NONE));
        assertNotNull(given.get(), "CRIU was not started on a terminal");
        assertEquals(List.of(), terminals.openTerminals(), "the failed restore's terminal is still open");
    }

    @Test
    void aRestoreWithoutShellJobGetsNoTerminal() throws Exception {
        terminals = new JobTerminals(root.resolve("terminals"));
        AtomicReference<Path> given = new AtomicReference<>();
        ScriptedCriu criu = new ScriptedCriu(wd -> {
            CriuRestorePeer.connect(wd).close();
            Files.writeString(wd.resolve("restored.pid"), "7");
            return 0;
        });
        RestoreOutcome outcome = new RestoreEngine(recording(criu, given), root.resolve("work"), terminals)
                .restore(new RestoreJob(NAME, new CriuOptions(false, false, false, false, false, false, null, null,
                        List.of()), Duration.ofSeconds(30)), new MapSource(), RestoreListener.NONE);
        assertEquals(null, outcome.terminal());
        assertEquals(null, given.get());
        assertEquals(List.of(), terminals.openTerminals());
    }

    private static RestoreJob shellJob() {
        return new RestoreJob(NAME, new CriuOptions(false, true, false, false, false, false, null, null, List.of()),
                Duration.ofSeconds(30));
    }

    /** The scripted CRIU, remembering the terminal it was started on. */
    private static CriuLauncher recording(ScriptedCriu criu, AtomicReference<Path> terminal) {
        return new CriuLauncher() {
            @Override
            public CriuProcess start(List<String> args, Path workDir) throws IOException {
                return criu.start(args, workDir);
            }

            @Override
            public CriuProcess start(List<String> args, Path workDir, Path tty) throws IOException {
                terminal.set(tty);
                return criu.start(args, workDir);
            }
        };
    }

    /** Runs {@code script} with the terminal as its stdin, stdout and stderr. */
    private static Process onTerminal(Path slave, String script) throws IOException {
        return new ProcessBuilder("/bin/sh", "-c", "exec 0<>\"$1\" 1>&0 2>&0; " + script, "sh", slave.toString())
                .redirectInput(new File("/dev/null")).start();
    }
}
