package dev.ferry.posix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Makes every native call path ready before the first dump or restore: jnr links its stubs on first
 * use, which costs a few hundred milliseconds that would otherwise fall between the request and the
 * start of CRIU. Daemons call it once at start.
 */
public final class NativeWarmup {

    private NativeWarmup() {
    }

    /** Creates and removes a pipe, a FIFO and a listening unix socket in {@code scratchDir}. */
    public static void run(Path scratchDir) throws IOException {
        Files.createDirectories(scratchDir);
        FileDescriptorHandle[] pipe = Pipes.pipe();
        Pipes.setPipeSize(pipe[1], 1 << 20);
        pipe[0].close();
        pipe[1].close();
        Path fifo = scratchDir.resolve(".warmup.fifo");
        Files.deleteIfExists(fifo);
        Fifos.mkfifo(fifo, 0600);
        Files.deleteIfExists(fifo);
        try (UnixListener l = UnixListener.bind(scratchDir.resolve(".warmup.sock"))) {
            Processes.isAlive(ProcessHandle.current().pid());
        }
    }
}
