package dev.ferry.protocol.tunnel;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ChannelClose;
import dev.ferry.protocol.codec.ChannelData;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.logging.Logger;

/**
 * One byte channel of the ferry link joined to a local, already connected socket of CRIU's: what CRIU writes goes
 * out as CHANNEL_DATA frames on {@code streamId}; CHANNEL_DATA frames that arrive are written to CRIU. Post-copy uses
 * one per migration, for CRIU's page-server connection (the target's {@code criu lazy-pages} ↔ the source's
 * {@code criu dump --lazy-pages}); ferry does not parse those bytes, the link's TLS protects them.
 *
 * <p>Threads: a reader thread ({@code ferry-tunnel-out}) reads the socket and sends frames, waiting while the link is
 * not writable; a writer thread ({@code ferry-tunnel-in}) writes queued frames to the socket. {@link #deliver} runs
 * on the link's event loop and never blocks: above {@link #PAUSE_BYTES} queued it turns the link's auto-read off, and
 * the writer turns it on again below {@link #RESUME_BYTES}. Bounded both ways.
 *
 * <p>Ownership: the tunnel owns the local socket from {@link #start} on and closes it at the end (EOF both ways)
 * or on {@link #abort}; it owns the buffers it queued and releases them. It never closes the link.
 */
public final class ChannelTunnel implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ChannelTunnel.class.getName());
    static final int READ_BYTES = 256 << 10;
    static final int PAUSE_BYTES = 8 << 20;
    static final int RESUME_BYTES = 2 << 20;
    private static final ByteBuf END = Unpooled.EMPTY_BUFFER;

    private final Channel link;
    private final int streamId;
    private final SocketChannel local;
    private final LongConsumer inbound;
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicBoolean aborted = new AtomicBoolean();
    private final CompletableFuture<Void> localEnded = new CompletableFuture<>();
    private final CompletableFuture<Void> remoteEnded = new CompletableFuture<>();
    private volatile boolean paused;

    /**
     * @param inbound told of every byte count written to the local socket (progress, metrics); called on the
     *                writer thread
     */
    public ChannelTunnel(Channel link, int streamId, SocketChannel local, LongConsumer inbound) {
        this.link = link;
        this.streamId = streamId;
        this.local = local;
        this.inbound = inbound;
    }

    /** Starts both threads. */
    public ChannelTunnel start() {
        daemon(this::readLocal, "ferry-tunnel-out-" + streamId);
        daemon(this::writeLocal, "ferry-tunnel-in-" + streamId);
        return this;
    }

    public int streamId() {
        return streamId;
    }

    /** Bytes CRIU wrote here that went out on the link. */
    public long bytesOut() {
        return bytesOut.get();
    }

    /** Bytes from the link written to CRIU here. */
    public long bytesIn() {
        return bytesIn.get();
    }

    /** Completes when CRIU's side ended (EOF; exceptionally on a read error or an abort). */
    public CompletableFuture<Void> localEnded() {
        return localEnded;
    }

    /** Completes when the peer's CHANNEL_CLOSE arrived and everything before it was written to CRIU. */
    public CompletableFuture<Void> remoteEnded() {
        return remoteEnded;
    }

    /** A CHANNEL_DATA of this channel; on the event loop. Takes over {@code data}. */
    public void deliver(ChannelData data) {
        ByteBuf buf = data.data();
        if (aborted.get()) {
            buf.release();
            return;
        }
        enqueue(buf);
        if (queuedBytes.get() > PAUSE_BYTES && !paused) {
            paused = true;
            link.config().setAutoRead(false);
        }
    }

    /** The peer's CHANNEL_CLOSE: once what came before it is written, CRIU reads EOF. */
    public void remoteClosed() {
        enqueue(END);
    }

    private void enqueue(ByteBuf buf) {
        synchronized (queue) {
            queue.add(buf);
            queuedBytes.addAndGet(buf.readableBytes());
            queue.notifyAll();
        }
    }

    /** Sends this end's CHANNEL_CLOSE: {@code code} null for a clean end. */
    public void sendClose(ErrorCode code, String message) {
        if (link.isActive()) {
            link.writeAndFlush(new ChannelClose(streamId, code, message == null ? "" : message, bytesOut.get()));
        }
    }

    private void readLocal() {
        try {
            while (!aborted.get()) {
                awaitWritable();
                ByteBuf buf = link.alloc().directBuffer(READ_BYTES, READ_BYTES);
                int n;
                try {
                    ByteBuffer nio = buf.nioBuffer(0, READ_BYTES);
                    n = local.read(nio);
                } catch (IOException | RuntimeException e) {
                    buf.release();
                    throw e;
                }
                if (n < 0) {
                    buf.release();
                    localEnded.complete(null);
                    return;
                }
                buf.writerIndex(n);
                bytesOut.addAndGet(n);
                link.writeAndFlush(new ChannelData(streamId, buf));
            }
            localEnded.completeExceptionally(new IOException("tunnel " + streamId + " aborted"));
        } catch (IOException | RuntimeException e) {
            localEnded.completeExceptionally(e);
            if (!aborted.get()) {
                LOG.warning(() -> "tunnel " + streamId + ": reading CRIU's socket failed: " + e);
            }
        }
    }

    private void awaitWritable() throws IOException {
        while (!link.isWritable()) {
            if (!link.isActive() || aborted.get()) {
                throw new IOException("the link closed while tunnel " + streamId + " was sending");
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    /** The writer thread's loop; package-private for tests that run it without the reader. */
    void writeLocal() {
        try {
            while (true) {
                ByteBuf buf;
                synchronized (queue) {
                    while (queue.isEmpty() && !aborted.get()) {
                        queue.wait(200);
                    }
                    if (aborted.get()) {
                        return;
                    }
                    buf = queue.poll();
                }
                if (buf == END) {
                    local.shutdownOutput();
                    remoteEnded.complete(null);
                    return;
                }
                int n = buf.readableBytes();
                try {
                    ByteBuffer nio = buf.nioBuffer();
                    while (nio.hasRemaining()) {
                        local.write(nio);
                    }
                } finally {
                    buf.release();
                }
                bytesIn.addAndGet(n);
                inbound.accept(n);
                if (queuedBytes.addAndGet(-n) < RESUME_BYTES && paused) {
                    paused = false;
                    link.config().setAutoRead(true);
                }
            }
        } catch (IOException | RuntimeException e) {
            remoteEnded.completeExceptionally(e);
            if (!aborted.get()) {
                LOG.warning(() -> "tunnel " + streamId + ": writing to CRIU's socket failed: " + e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            remoteEnded.completeExceptionally(e);
        }
    }

    /** Ends the tunnel at once: closes CRIU's socket (CRIU reads EOF or a reset), drops what is queued. Idempotent. */
    public void abort() {
        if (!aborted.compareAndSet(false, true)) {
            return;
        }
        try {
            local.close();
        } catch (IOException e) {
            LOG.fine(() -> "closing tunnel " + streamId + ": " + e);
        }
        synchronized (queue) {
            for (ByteBuf b : queue) {
                b.release();
            }
            queue.clear();
            queue.notifyAll();
        }
        if (paused) {
            paused = false;
            link.config().setAutoRead(true);
        }
        localEnded.completeExceptionally(new IOException("tunnel " + streamId + " aborted"));
        remoteEnded.completeExceptionally(new IOException("tunnel " + streamId + " aborted"));
    }

    /** After a clean end both ways: closes CRIU's socket. */
    @Override
    public void close() {
        abort();
    }

    private static void daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }
}
