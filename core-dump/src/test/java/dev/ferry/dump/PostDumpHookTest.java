package dev.ferry.dump;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PostDumpHookTest {

    @TempDir
    Path wd;

    private int run(String action) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sh", wd.resolve("hook").toString()).inheritIO();
        pb.environment().put("CRTOOLS_SCRIPT_ACTION", action);
        Process p = pb.start();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        return p.exitValue();
    }

    @Test
    void otherActionsPassAtOnce() throws Exception {
        try (PostDumpHook hook = PostDumpHook.create(wd, Duration.ofSeconds(5))) {
            for (String action : new String[] {"pre-stream", "pre-dump", "network-lock", "query-ext-files"}) {
                assertEquals(0, run(action), action);
            }
        }
    }

    @Test
    void postDumpPassesOnlyOnOk() throws Exception {
        try (PostDumpHook hook = PostDumpHook.create(wd, Duration.ofSeconds(10))) {
            CompletableFuture<Boolean> engine = CompletableFuture.supplyAsync(() -> {
                try {
                    boolean asked = hook.awaitRequest();
                    hook.answer(true);
                    return asked;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertEquals(0, run("post-dump"));
            assertTrue(engine.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void postDumpFailsOnFail() throws Exception {
        try (PostDumpHook hook = PostDumpHook.create(wd, Duration.ofSeconds(10))) {
            CompletableFuture.runAsync(() -> {
                try {
                    hook.awaitRequest();
                    hook.answer(false);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertNotEquals(0, run("post-dump"));
        }
    }

    @Test
    void postDumpGivesUpWhenTheEngineNeverAnswers() throws Exception {
        try (PostDumpHook hook = PostDumpHook.create(wd, Duration.ofSeconds(1))) {
            long start = System.nanoTime();
            assertNotEquals(0, run("post-dump"));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(6));
        }
    }

    @Test
    void cancelWakesTheWaiterAndCloseRemovesEverything() throws Exception {
        PostDumpHook hook = PostDumpHook.create(wd, Duration.ofSeconds(1));
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return hook.awaitRequest();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        hook.cancel();
        assertFalse(waiter.get(5, TimeUnit.SECONDS));
        hook.close();
        try (var files = Files.list(wd)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void quotesTheWorkDirForTheShell() {
        assertEquals("'/tmp/it'\\''s'", PostDumpHook.shellQuote("/tmp/it's"));
        String script = PostDumpHook.script(Path.of("/w/d-1"), Duration.ofMillis(30_500));
        assertTrue(script.contains("timeout -k 2 31 sh -c"), script);
        assertTrue(script.contains("ferry-post-dump '/w/d-1'"), script);
    }
}
