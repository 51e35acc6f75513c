package dev.ferry.criu;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.SocketPair;
import dev.ferry.protocol.criu.CriuRpc.criu_req;
import dev.ferry.protocol.criu.CriuRpc.criu_req_type;
import dev.ferry.protocol.criu.CriuRpc.criu_resp;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One {@code criu swrk 3}: CRIU's RPC worker, serving one request on a SOCK_SEQPACKET pair whose other end is fd 3
 * (shared/reference/criu-stream-protocol.md §2), with no framing: one protobuf message per record.
 *
 * <p>Why a restore goes this way rather than through the command line: it can be started before the images are
 * there, so that the request costs no process start (the shell launcher, the loader and CRIU's own start: ~6 ms
 * here), and with {@code notify_scripts} every CRIU action is one round trip on the socket, where an
 * {@code --action-script} costs a fork and two execs of {@code sh} per action (1.2-1.6 ms each, six per restore).
 * CRIU refuses {@code --stream} over RPC, so only restores from an images dir can use it.
 *
 * <p>Ownership: owns the process and this process's end of the socket; {@link #close} closes the socket, on which
 * swrk exits, and has the process stopped if it lingers past a grace period. One thread calls {@link #call}.
 */
public final class CriuSwrk implements Closeable {

    /** The descriptor swrk is told to find its socket on. */
    static final int FD = 3;
    private static final Duration EXIT_GRACE = Duration.ofSeconds(2);

    /** Answers one notification while CRIU waits: true lets it go on, false fails the action. */
    @FunctionalInterface
    public interface Notifications {
        /** @param pid the root of the restored tree for setup-namespaces and post-restore, else 0 */
        boolean notify(String script, long pid) throws InterruptedException;
    }

    private final CriuProcess process;
    private final FileDescriptorHandle socket;

    private CriuSwrk(CriuProcess process, FileDescriptorHandle socket) {
        this.process = process;
        this.socket = socket;
    }

    /** Starts {@code criu swrk 3}, output appended to {@code <workDir>/criu.out}; it waits for a request. */
    public static CriuSwrk start(Criu criu, Path workDir) throws IOException {
        FileDescriptorHandle[] pair = SocketPair.seqPacket();
        try {
            CriuProcess process = criu.spawn(java.util.List.of("swrk", Integer.toString(FD)), workDir, Map.of(FD, pair[1]));
            return new CriuSwrk(process, pair[0]);
        } catch (IOException | RuntimeException e) {
            pair[0].closeQuietly();
            throw e;
        } finally {
            pair[1].closeQuietly(); // the child has its copy; ours would hide swrk's exit (no EOF)
        }
    }

    public CriuProcess process() {
        return process;
    }

    /**
     * Sends {@code request}, answers CRIU's notifications through {@code notifications} in the order they come,
     * and returns CRIU's reply to the request.
     *
     * @throws EOFException if swrk exited without replying
     * @throws java.net.SocketTimeoutException if CRIU did not reply within {@code timeout}, notifications included
     *         (then swrk still runs: stop it)
     */
    public criu_resp call(criu_req request, Notifications notifications, Duration timeout)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        SocketPair.send(socket, request.toByteArray());
        while (true) {
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            criu_resp resp = criu_resp.parseFrom(SocketPair.receive(socket, left));
            if (resp.getType() != criu_req_type.NOTIFY) {
                return resp;
            }
            boolean ok = notifications.notify(resp.getNotify().getScript(), resp.getNotify().getPid());
            SocketPair.send(socket, criu_req.newBuilder().setType(criu_req_type.NOTIFY).setNotifySuccess(ok).build()
                    .toByteArray());
        }
    }

    /**
     * Closes the socket, on which swrk exits, without waiting for that: a restore calls this on the frozen path. A swrk
     * still running {@link #EXIT_GRACE} later is stopped then, on a timer thread.
     */
    @Override
    public void close() {
        socket.closeQuietly();
        if (process.isAlive()) {
            java.util.concurrent.CompletableFuture.delayedExecutor(EXIT_GRACE.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS).execute(() -> process.stop(EXIT_GRACE));
        }
    }

    @Override
    public String toString() {
        return "criu swrk " + process.pid();
    }
}
