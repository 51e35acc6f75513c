package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class PseudoTerminalTest {

    @Test
    void readsWhatAProcessOnTheSlaveWritesThenReportsTheHangUp() throws Exception {
        try (PseudoTerminal pty = PseudoTerminal.open()) {
            assertTrue(pty.slave().toString().matches("/dev/pts/\\d+"), pty.slave().toString());
            assertTrue(Files.exists(pty.slave()), "the slave does not exist: " + pty.slave());
            Process writer = new ProcessBuilder("/bin/sh", "-c", "printf 'hello terminal' >\"$1\"", "sh",
                    pty.slave().toString()).redirectInput(new File("/dev/null")).start();
            assertTrue(writer.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, writer.exitValue());

            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[64];
            int n;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while ((n = pty.read(buf, 100)) != PseudoTerminal.HANGUP && System.nanoTime() < deadline) {
                if (n > 0) {
                    got.write(buf, 0, n);
                }
            }
            assertEquals(PseudoTerminal.HANGUP, n, "no hang-up after the only writer closed the slave");
            assertEquals("hello terminal", got.toString(StandardCharsets.US_ASCII));
        }
    }

    @Test
    void closedTerminalReportsHangUpAndItsFdIsGone() throws Exception {
        PseudoTerminal pty = PseudoTerminal.open();
        long before = ptmxFds();
        assertTrue(before >= 1, "no /dev/ptmx fd while the terminal is open");
        pty.close();
        pty.close(); // idempotent
        assertFalse(pty.isOpen());
        assertEquals(PseudoTerminal.HANGUP, pty.read(new byte[8], 10));
        assertEquals(before - 1, ptmxFds(), "the master fd is still open");
    }

    static long ptmxFds() throws Exception {
        long count = 0;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("/dev/ptmx")) {
                        count++;
                    }
                } catch (java.io.IOException gone) {
                    // the listing's own fd, closed by now
                }
            }
        }
        return count;
    }
}
