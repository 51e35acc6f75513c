package dev.ferry.restore;

import dev.ferry.criu.StreamerConnection;
import dev.ferry.posix.FdSocket;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/** What CRIU does on the serve socket, step by step, for scripted tests. */
final class CriuRestorePeer implements AutoCloseable {

    private final FdSocket socket;

    private CriuRestorePeer(FdSocket socket) {
        this.socket = socket;
    }

    static CriuRestorePeer connect(Path workDir) throws IOException {
        return new CriuRestorePeer(FdSocket.connect(workDir.resolve(StreamerConnection.SERVE_SOCKET)));
    }

    /** Sends a request and returns the raw reply frame (length + body). */
    byte[] requestRaw(String filename) throws IOException {
        socket.write(StreamerConnection.encodeRequest(filename));
        byte[] header = new byte[4];
        if (socket.readFully(header, 0, 4) < 0) {
            throw new IOException("streamer closed instead of replying");
        }
        int length = ByteBuffer.wrap(header).order(java.nio.ByteOrder.nativeOrder()).getInt();
        byte[] frame = new byte[4 + length];
        System.arraycopy(header, 0, frame, 0, 4);
        socket.readFully(frame, 4, length);
        return frame;
    }

    /**
     * Requests an image like CRIU: on {@code exists=true} passes a pipe's write end and returns the read end;
     * returns null on {@code exists=false}.
     */
    FileChannel request(String filename) throws IOException {
        byte[] frame = requestRaw(filename);
        byte[] body = java.util.Arrays.copyOfRange(frame, 4, frame.length);
        if (!StreamerConnection.decodeReply(body)) {
            return null;
        }
        FileDescriptorHandle[] pipe = Pipes.pipe();
        try {
            socket.sendFd(pipe[1]);
            return pipe[0].openChannel(false);
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
    }

    static byte[] readAll(FileChannel in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(65536);
        while (in.read(b) >= 0) {
            out.write(b.array(), 0, b.position());
            b.clear();
        }
        in.close();
        return out.toByteArray();
    }

    static byte[] readSome(FileChannel in, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining() && in.read(b) >= 0) {
            // until n bytes
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
