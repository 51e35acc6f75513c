package dev.ferry.posix;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * Makes every native call path ready before the first dump or restore: jnr links its stubs on first
 * use, which costs a few hundred milliseconds that would otherwise fall between the request and the
 * start of CRIU. Daemons call it once at start.
 */
public final class NativeWarmup {

    private NativeWarmup() {
    }

    /**
     * Creates and removes a pipe (vmsplicing a few bytes into it), a FIFO and a listening unix socket in
     * {@code scratchDir}; spawns {@code /bin/true} with one end of a socket pair, and passes a record over it.
     */
    public static void run(Path scratchDir) throws IOException {
        Files.createDirectories(scratchDir);
        FileDescriptorHandle[] pipe = Pipes.pipe();
        Pipes.setPipeSize(pipe[1], 1 << 20);
        Pipes.maxPipeSize();
        Pointer bytes = Memory.allocateDirect(jnr.ffi.Runtime.getRuntime(NativeAccess.LIBC), 16);
        Pipes.vmspliceFully(pipe[1], bytes.address(), 16);
        pipe[0].close();
        pipe[1].close(); // the pipe, and its reference to the bytes, is gone
        Reference.reachabilityFence(bytes);
        Path fifo = scratchDir.resolve(".warmup.fifo");
        Files.deleteIfExists(fifo);
        Fifos.mkfifo(fifo, 0600);
        Files.deleteIfExists(fifo);
        try (UnixListener l = UnixListener.bind(scratchDir.resolve(".warmup.sock"))) {
            Processes.isAlive(ProcessHandle.current().pid());
        }
        // a spawn with a socket pair, as CRIU's post-copy processes are started: ~250 ms the first time
        FileDescriptorHandle[] pair = SocketPair.seqPacket();
        try {
            ChildProcess child = Spawn.start(java.util.List.of("/bin/true"), Path.of("/dev/null"), java.util.Map.of(3, pair[1]));
            SocketPair.send(pair[1], new byte[1]);
            SocketPair.receive(pair[0], java.time.Duration.ofSeconds(5));
            child.waitFor(java.time.Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
}
