package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipesFifosProcessesTest {

    @TempDir
    Path dir;

    @Test
    void raisesPipeSize() throws Exception {
        FileDescriptorHandle[] pipe = Pipes.pipe();
        try {
            assertEquals(65536, Pipes.pipeSize(pipe[0]));
            int size = Pipes.setPipeSize(pipe[0], 1 << 20);
            assertEquals(1 << 20, size); // root may exceed pipe-max-size
            assertEquals(1 << 20, Pipes.pipeSize(pipe[1]));
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
        assertEquals(-1, Pipes.setPipeSize(pipe[0], 1 << 20));
    }

    @Test
    void pipeEndsAreCloseOnExec() throws Exception {
        FileDescriptorHandle[] pipe = Pipes.pipe();
        try {
            String flags = Files.readString(Path.of("/proc/self/fdinfo/" + pipe[0].fd()));
            long octal = Long.parseLong(flags.lines().filter(l -> l.startsWith("flags:")).findFirst().orElseThrow()
                    .substring(6).trim(), 8);
            assertTrue((octal & 02000000) != 0, flags);
        } finally {
            pipe[0].close();
            pipe[1].close();
            pipe[1].close(); // idempotent
        }
    }

    @Test
    void mkfifoHonoursModeDespiteUmask() throws Exception {
        Path fifo = dir.resolve("barrier.req");
        Fifos.mkfifo(fifo, 0600);
        assertTrue(Files.exists(fifo));
        assertFalse(Files.isRegularFile(fifo));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fifo)));
        PosixException e = assertThrows(PosixException.class, () -> Fifos.mkfifo(fifo, 0600));
        assertEquals(17, e.errno());
        assertEquals("mkfifo", e.call());
        assertTrue(e.getMessage().contains("File exists (errno 17)"), e.getMessage());
    }

    @Test
    void seesLiveDeadAndZombieProcesses() throws Exception {
        assertTrue(Processes.isAlive(ProcessHandle.current().pid()));
        Process sleeper = new ProcessBuilder("sleep", "30").start();
        assertTrue(Processes.isAlive(sleeper.pid()));
        Processes.kill(sleeper.pid(), Processes.SIGKILL);
        // Until the JVM reaps it the child is a zombie: not alive either way.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (Processes.isAlive(sleeper.pid()) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertFalse(Processes.isAlive(sleeper.pid()));
        sleeper.waitFor();
        assertFalse(Processes.isAlive(Integer.MAX_VALUE - 1L));
        PosixException e = assertThrows(PosixException.class, () -> Processes.kill(Integer.MAX_VALUE - 1L, 0));
        assertEquals(PosixException.ESRCH, e.errno());
    }
}
