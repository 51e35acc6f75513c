package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SpawnTest {

    @TempDir
    Path dir;

    private ChildProcess sh(String script, Map<Integer, FileDescriptorHandle> fds) throws Exception {
        return Spawn.start(List.of("/bin/sh", "-c", script), dir.resolve("out"), fds);
    }

    private String out() {
        try {
            return Files.readString(dir.resolve("out"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void childHasStdioAndTheAskedDescriptorsOnly() throws Exception {
        // open descriptors of our own without O_CLOEXEC, as the JVM does for its jars: none may reach the child
        try (FileChannel leaky = FileChannel.open(dir.resolve("leaky"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileDescriptorHandle[] pair = SocketPair.stream();
            try {
                ChildProcess child = sh("ls /proc/$$/fd; readlink /proc/$$/fd/5; readlink /proc/$$/fd/0",
                        Map.of(5, pair[1]));
                assertTrue(child.waitFor(Duration.ofSeconds(10)));
                assertEquals(0, child.exitValue(), this::out);
                List<String> lines = out().lines().toList();
                assertEquals(List.of("0", "1", "2", "5"), lines.subList(0, 4), this::out);
                assertTrue(lines.get(4).startsWith("socket:["), this::out);
                assertEquals("/dev/null", lines.get(5), this::out);
                assertTrue(leaky.isOpen());
            } finally {
                pair[0].close();
                pair[1].close();
            }
        }
    }

    @Test
    void theChildsEndCarriesBytesBothWays_andItsExitIsOurEof() throws Exception {
        FileDescriptorHandle[] pair = SocketPair.stream();
        ChildProcess child;
        try {
            child = sh("read line <&3 && echo \"got $line\" >&3", Map.of(3, pair[1]));
        } finally {
            pair[1].close(); // the child has its copy
        }
        try (SocketChannel ours = SocketPair.channel(pair[0])) {
            ours.write(ByteBuffer.wrap("hello\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer got = ByteBuffer.allocate(64);
            while (ours.read(got) >= 0) {
                // until the child's exit closes its end
            }
            assertEquals("got hello\n", new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII));
        }
        assertTrue(child.waitFor(Duration.ofSeconds(10)));
        assertEquals(0, child.exitValue());
    }

    @Test
    void seqPacketKeepsRecordBoundaries_eofAndTimeoutAreTold() throws Exception {
        FileDescriptorHandle[] pair = SocketPair.seqPacket();
        try {
            SocketPair.send(pair[1], new byte[] {1, 2, 3});
            SocketPair.send(pair[1], new byte[70_000]);
            SocketPair.send(pair[1], new byte[] {4});
            assertArrayEquals(new byte[] {1, 2, 3}, SocketPair.receive(pair[0], Duration.ofSeconds(5)));
            assertEquals(70_000, SocketPair.receive(pair[0], Duration.ofSeconds(5)).length);
            assertArrayEquals(new byte[] {4}, SocketPair.receive(pair[0], Duration.ofSeconds(5)));
            long start = System.nanoTime();
            assertThrows(SocketTimeoutException.class, () -> SocketPair.receive(pair[0], Duration.ofMillis(150)));
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(140));
            pair[1].close();
            assertThrows(EOFException.class, () -> SocketPair.receive(pair[0], Duration.ofSeconds(5)));
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }

    @Test
    void exitCodesAndSignalsAsTheShellReportsThem() throws Exception {
        ChildProcess seven = sh("exit 7", Map.of());
        assertTrue(seven.waitFor(Duration.ofSeconds(10)));
        assertEquals(7, seven.exitValue());
        assertFalse(seven.isAlive());

        ChildProcess sleeper = sh("exec sleep 30", Map.of());
        assertFalse(sleeper.waitFor(Duration.ofMillis(100)));
        assertTrue(sleeper.isAlive());
        assertThrows(IllegalStateException.class, sleeper::exitValue);
        sleeper.signal(Processes.SIGKILL);
        assertTrue(sleeper.waitFor(Duration.ofSeconds(10)));
        assertEquals(128 + Processes.SIGKILL, sleeper.exitValue());
        assertFalse(Files.exists(Path.of("/proc/" + sleeper.pid())), "the child was not reaped");
        sleeper.signal(Processes.SIGKILL); // after the exit: nothing, not even to a process that took the pid
    }

    @Test
    void outputIsAppended_aMissingProgramIsAnError() throws Exception {
        Files.writeString(dir.resolve("out"), "before\n");
        ChildProcess child = sh("echo out; echo err >&2", Map.of());
        assertTrue(child.waitFor(Duration.ofSeconds(10)));
        assertEquals("before\nout\nerr\n", out());

        java.io.IOException e = assertThrows(java.io.IOException.class,
                () -> Spawn.start(List.of(dir.resolve("no-such-program").toString()), dir.resolve("out"), Map.of()));
        assertTrue(e.getMessage().contains("no-such-program"), e.getMessage());
        FileDescriptorHandle[] pair = SocketPair.stream();
        try {
            assertThrows(IllegalArgumentException.class, () -> sh("true", Map.of(1, pair[1])));
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
}
