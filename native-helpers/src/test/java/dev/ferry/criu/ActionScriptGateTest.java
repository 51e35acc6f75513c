package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ActionScriptGateTest {

    @TempDir
    Path wd;

    /** Runs the script as CRIU would for {@code action}. */
    private Process start(String action, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sh", wd.resolve(ActionScriptGate.SCRIPT).toString()).inheritIO();
        pb.environment().put("CRTOOLS_SCRIPT_ACTION", action);
        pb.environment().remove("CRTOOLS_INIT_PID");
        pb.environment().putAll(env);
        return pb.start();
    }

    private int run(String action) throws Exception {
        Process p = start(action, Map.of());
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        return p.exitValue();
    }

    private static CompletableFuture<OptionalLong> answering(ActionScriptGate gate, boolean verdict) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                OptionalLong asked = gate.awaitRequest();
                gate.answer(verdict);
                return asked;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    @Test
    void otherActionsPassAtOnce() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(5))) {
            for (String action : new String[] {"pre-stream", "pre-dump", "network-lock", "query-ext-files", "post-restore"}) {
                assertEquals(0, run(action), action);
            }
        }
    }

    @Test
    void gatedActionPassesOnlyOnOk() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(10))) {
            CompletableFuture<OptionalLong> engine = answering(gate, true);
            assertEquals(0, run("post-dump"));
            assertTrue(engine.get(5, TimeUnit.SECONDS).isPresent());
        }
    }

    @Test
    void gatedActionFailsOnFail() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(10))) {
            answering(gate, false);
            assertNotEquals(0, run("post-dump"));
        }
    }

    @Test
    void postRestoreCarriesTheRootPidCriuGives() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_RESTORE, Duration.ofSeconds(10))) {
            CompletableFuture<OptionalLong> engine = answering(gate, true);
            for (String other : new String[] {"pre-restore", "setup-namespaces", "pre-resume", "post-resume"}) {
                assertEquals(0, run(other), other);
            }
            Process hook = start("post-restore", Map.of("CRTOOLS_INIT_PID", "4242"));
            assertTrue(hook.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, hook.exitValue());
            assertEquals(OptionalLong.of(4242), engine.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void aMissingPidIsZero() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_RESTORE, Duration.ofSeconds(10))) {
            CompletableFuture<OptionalLong> engine = answering(gate, true);
            assertEquals(0, run("post-restore"));
            assertEquals(OptionalLong.of(0), engine.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void givesUpWhenTheEngineNeverAnswers() throws Exception {
        try (ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(1))) {
            long start = System.nanoTime();
            assertNotEquals(0, run("post-dump"));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(6));
        }
    }

    /** What happens when the engine's process dies while CRIU waits: every writer of gate.ack is gone. */
    @Test
    void failsAtOnceWhenTheEngineGoesAwayWhileTheScriptWaits() throws Exception {
        ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(120));
        Process hook = start("post-dump", Map.of());
        assertTrue(gate.awaitRequest().isPresent(), "the script never asked");
        // no pause: the script opened gate.ack before it asked, so its read ends with EOF whenever the engine goes
        long start = System.nanoTime();
        gate.close();
        assertTrue(hook.waitFor(10, TimeUnit.SECONDS), "the script still waits after the engine went away");
        assertNotEquals(0, hook.exitValue(), "the script passed with no verdict");
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "the script waited for its timeout");
    }

    @Test
    void cancelWakesTheWaiterAndCloseRemovesEverything() throws Exception {
        ActionScriptGate gate = ActionScriptGate.create(wd, ActionScriptGate.POST_DUMP, Duration.ofSeconds(1));
        CompletableFuture<OptionalLong> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return gate.awaitRequest();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        gate.cancel();
        assertFalse(waiter.get(5, TimeUnit.SECONDS).isPresent());
        gate.close();
        try (var files = Files.list(wd)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void quotesTheWorkDirForTheShellAndRefusesOddActions() {
        assertEquals("'/tmp/it'\\''s'", ActionScriptGate.shellQuote("/tmp/it's"));
        String script = ActionScriptGate.script(Path.of("/w/d-1"), "post-dump", Duration.ofMillis(30_500));
        assertTrue(script.contains("timeout -k 2 31 sh -c"), script);
        assertTrue(script.contains("ferry-post-dump '/w/d-1'"), script);
        assertThrows(IllegalArgumentException.class, () -> ActionScriptGate.create(wd, "post-dump; rm", Duration.ofSeconds(1)));
    }
}
