package dev.ferry.dump;

import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.FdSocket;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** What CRIU does on the capture socket and with the action script, step by step, for scripted tests. */
final class CriuDumpPeer implements AutoCloseable {

    private final Path workDir;
    private final FdSocket socket;

    private CriuDumpPeer(Path workDir, FdSocket socket) {
        this.workDir = workDir;
        this.socket = socket;
    }

    static CriuDumpPeer connect(Path workDir) throws IOException {
        return new CriuDumpPeer(workDir, FdSocket.connect(workDir.resolve(StreamerConnection.CAPTURE_SOCKET)));
    }

    /** Sends the request and the pipe's read end, as CRIU does at an image's first write; returns the write end. */
    FileChannel open(String filename) throws IOException {
        FileDescriptorHandle[] pipe = Pipes.pipe();
        try {
            socket.write(StreamerConnection.encodeRequest(filename));
            socket.sendFd(pipe[0]);
            return pipe[1].openChannel(true);
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
    }

    static void writeAll(FileChannel out, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    /** Runs the action script the way CRIU does, with CRTOOLS_SCRIPT_ACTION; returns its exit code. */
    int runHook(String action) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("sh", workDir.resolve("hook").toString()).inheritIO();
        pb.environment().put("CRTOOLS_SCRIPT_ACTION", action);
        pb.environment().put("CRTOOLS_IMAGE_DIR", workDir.toString());
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("hook for " + action + " did not exit within 60 s");
        }
        return p.exitValue();
    }

    void log(String line) throws IOException {
        Files.writeString(workDir.resolve("dump.log"), line + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
