package dev.ferry.criu;

import dev.ferry.posix.FdSocket;
import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.UnixListener;
import dev.ferry.protocol.ProtocolException;
import dev.ferry.protocol.criu.StreamerMessages;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.AsynchronousCloseException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * CRIU's end of an image-streamer connection ({@code --stream}), seen from the streamer. Every message is
 * framed as CRIU frames image entries:
 *
 * <pre>
 * +------------------------------------+----------------------------------+
 * | u32 length (native order: LE here) | length bytes of protobuf (proto2) |
 * +------------------------------------+----------------------------------+
 *   request "seccomp.img": 0d 00 00 00 | 0a 0b 73 65 63 63 6f 6d 70 2e 69 6d 67
 *   reply exists=true:     02 00 00 00 | 08 01      exists=false: 02 00 00 00 | 08 00
 * </pre>
 *
 * After a request CRIU passes one pipe end on a single {@code 0x00} byte with SCM_RIGHTS: the read end on dump
 * right away, the write end on restore only after a reply {@code exists=true}. EOF at a message boundary ends the
 * stream. Messages above {@value #MAX_MESSAGE_BYTES} bytes are refused, as criu-image-streamer does.
 *
 * <p>Ownership: owns the socket. Thread-safety: one thread (the request loop) uses it; {@link #close()} may come
 * from any thread.
 */
public final class StreamerConnection implements Closeable {

    public static final String CAPTURE_SOCKET = "streamer-capture.sock";
    public static final String SERVE_SOCKET = "streamer-serve.sock";
    public static final int MAX_MESSAGE_BYTES = 10 * 1024;
    private static final Duration ACCEPT_SLICE = Duration.ofMillis(50);

    private final FdSocket socket;
    private final byte[] header = new byte[4];

    public StreamerConnection(FdSocket socket) {
        this.socket = socket;
    }

    /**
     * Waits for CRIU's one connection on {@code listener}: null if CRIU exited without connecting, the
     * listener was closed, or {@code stop} says to give up. CRIU connects before it validates anything,
     * so a run that fails early still connects (and then closes with no request).
     */
    public static StreamerConnection accept(UnixListener listener, CriuProcess criu, BooleanSupplier stop)
            throws IOException {
        while (!stop.getAsBoolean()) {
            boolean criuAlive = criu.isAlive(); // read before accept: a connection made before the exit is queued
            try {
                return new StreamerConnection(listener.accept(criuAlive ? ACCEPT_SLICE : Duration.ZERO));
            } catch (TimeoutException e) {
                if (!criuAlive) {
                    return null;
                }
            } catch (AsynchronousCloseException e) {
                return null;
            }
        }
        return null;
    }

    public FdSocket socket() {
        return socket;
    }

    /**
     * Reads the next request and returns its file name (not validated here), or null when CRIU closed the
     * connection at a message boundary: the end of the stream.
     */
    public String readRequest() throws IOException {
        if (socket.readFully(header, 0, 4) < 0) {
            return null;
        }
        long length = ByteBuffer.wrap(header).order(ByteOrder.nativeOrder()).getInt() & 0xffff_ffffL;
        if (length > MAX_MESSAGE_BYTES) {
            throw new StreamerProtocolException("streamer request length: " + length + " bytes (expected: <= "
                    + MAX_MESSAGE_BYTES + "); the peer is not CRIU's image streamer client");
        }
        byte[] body = new byte[(int) length];
        if (socket.readFully(body, 0, body.length) < 0) {
            throw new EOFException("streamer connection closed after a request header (expected: " + length + " more bytes)");
        }
        try {
            return StreamerMessages.decodeRequest(body);
        } catch (ProtocolException e) {
            throw new StreamerProtocolException("streamer request of " + length + " bytes: " + e.getMessage(), e);
        }
    }

    /** Answers a restore request; the field is always encoded, also when false (a proto3 encoder would omit it). */
    public void reply(boolean exists) throws IOException {
        socket.write(encodeReply(exists));
    }

    /** Receives the pipe end CRIU passes after a request; the caller owns it. */
    public FileDescriptorHandle receivePipe() throws IOException {
        return socket.receiveFd();
    }

    /** Closes the connection; CRIU sees EOF/EPIPE on its next use. Idempotent. */
    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** A framed request as CRIU sends it (for peers playing CRIU). */
    public static byte[] encodeRequest(String filename) {
        ByteBuffer b = StreamerMessages.encodeRequest(filename);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** A framed reply: {@code 02 00 00 00 08 01} or {@code 02 00 00 00 08 00}. */
    public static byte[] encodeReply(boolean exists) {
        return StreamerMessages.encodeReply(exists);
    }

    /** Decodes a framed reply's body (for peers playing CRIU). */
    public static boolean decodeReply(byte[] body) throws StreamerProtocolException {
        try {
            return StreamerMessages.decodeReply(body);
        } catch (ProtocolException e) {
            throw new StreamerProtocolException("not an img_streamer_reply_entry: " + e.getMessage(), e);
        }
    }
}
