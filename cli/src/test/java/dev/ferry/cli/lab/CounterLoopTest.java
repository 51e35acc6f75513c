package dev.ferry.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CounterLoop#awaitSettled}: the file a frozen or killed counter loop leaves behind. */
class CounterLoopTest {

    @TempDir
    Path dir;

    @Test
    void aStableValueIsSettled() throws Exception {
        Path f = dir.resolve("c");
        Files.writeString(f, "7\n");
        assertEquals(OptionalLong.of(7), CounterLoop.awaitSettled(f, Duration.ofMillis(100), Duration.ofSeconds(5)));
    }

    /** LoopingShellIT failed once this way: CRIU stopped the shell between `>`'s truncation and the echo. */
    @Test
    void aFileLeftEmptyMidWriteIsSettledOnTheValueBefore() throws Exception {
        Path f = dir.resolve("c");
        Files.writeString(f, "7\n");
        Thread writer = new Thread(() -> {
            try {
                Thread.sleep(50);
                Files.writeString(f, "");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        writer.start();
        assertEquals(OptionalLong.of(7), CounterLoop.awaitSettled(f, Duration.ofMillis(200), Duration.ofSeconds(5)));
        writer.join();
    }

    @Test
    void aCounterThatKeepsCountingIsNotSettled() throws Exception {
        Path f = dir.resolve("c");
        AtomicBoolean stop = new AtomicBoolean();
        Thread writer = new Thread(() -> {
            for (int i = 0; !stop.get(); i++) {
                try {
                    Files.writeString(f, i + "\n");
                    Thread.sleep(20);
                } catch (Exception e) {
                    return;
                }
            }
        });
        writer.start();
        try {
            assertTrue(CounterLoop.awaitSettled(f, Duration.ofMillis(200), Duration.ofMillis(800)).isEmpty());
        } finally {
            stop.set(true);
            writer.join();
        }
    }
}
