package dev.ferry.proxy;

import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageName;
import io.netty.buffer.ByteBuf;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a resumable snapshot's link has sent but the cache has not confirmed (RECEIVED): per image stream the
 * IMAGE_DATA buffers from the last confirmed offset on, whether IMAGE_OPEN / IMAGE_END went out, and the commit. After
 * a reattach, {@link #replay} gives the frames that continue every stream from the offset the cache holds.
 *
 * <p>Bounded: {@link #isFull()} once {@link #limit} bytes are kept, and the link's writers wait for confirmations
 * before they read more of CRIU's pipes (CRIU then blocks in write: back-pressure, nothing is lost).
 *
 * <p>Ownership: the window holds one reference to every kept buffer (the wire gets its own duplicate) and releases
 * it once the cache confirmed the bytes, or in {@link #clear()}. Thread-safe: drain threads add, the event loop
 * confirms, the reconnect thread replays; every method is synchronized.
 */
final class ResendWindow {

    /**
     * The default bound of a snapshot's unconfirmed bytes. Well above what is in flight on a fast link (the link's
     * 4 MiB write buffer, the kernel's socket buffers on both nodes, the cache's 2 MiB between RECEIVED frames), so
     * it does not limit throughput; and small inside the proxy's 256 MiB of direct memory (docs/usage.md "JVM
     * settings"), even with several dumps at once.
     */
    static final long DEFAULT_LIMIT = 32L << 20;

    private final long limit;
    private final Map<Integer, Stream> streams = new TreeMap<>();
    private long kept;
    private SnapshotCommit commit;

    ResendWindow(long limit) {
        this.limit = limit;
    }

    /** One image stream: what went out and what of it is kept. */
    private static final class Stream {
        final ImageName name;
        final ArrayDeque<Kept> data = new ArrayDeque<>();
        long sent;
        long confirmed;
        ImageEnd end;
        boolean complete;

        Stream(ImageName name) {
            this.name = name;
        }
    }

    /** A buffer of IMAGE_DATA and the image offset of its first byte. */
    private record Kept(long offset, ByteBuf buf) {
        long end() {
            return offset + buf.readableBytes();
        }
    }

    long limit() {
        return limit;
    }

    synchronized boolean isFull() {
        return kept >= limit;
    }

    /** Bytes kept for a resend now. */
    synchronized long kept() {
        return kept;
    }

    synchronized void opened(ImageOpen open) {
        streams.put(open.streamId(), new Stream(open.name()));
    }

    /** Keeps {@code buf} (the caller's reference moves to the window) as the next bytes of stream {@code id}. */
    synchronized void sent(int id, ByteBuf buf) {
        Stream s = streams.get(id);
        if (s == null || s.complete) {
            buf.release();
            throw new IllegalStateException("IMAGE_DATA on stream " + id + ", which the window does not know as open");
        }
        s.data.add(new Kept(s.sent, buf));
        s.sent += buf.readableBytes();
        kept += buf.readableBytes();
    }

    synchronized void ended(ImageEnd end) {
        Stream s = streams.get(end.streamId());
        if (s != null) {
            s.end = end;
        }
    }

    synchronized void committing(SnapshotCommit c) {
        this.commit = c;
    }

    /** The cache holds the listed offsets: forgets (releases) what lies below them. */
    synchronized void confirmed(Received r) {
        for (Received.StreamOffset o : r.streams()) {
            Stream s = streams.get(o.streamId());
            if (s != null) {
                confirm(s, Math.min(o.offset(), s.sent));
            }
        }
    }

    private void confirm(Stream s, long offset) {
        s.confirmed = Math.max(s.confirmed, offset);
        while (!s.data.isEmpty() && s.data.peekFirst().end() <= s.confirmed) {
            Kept k = s.data.pollFirst();
            kept -= k.buf().readableBytes();
            k.buf().release();
        }
    }

    /** Where the link was when it dropped, for the log: the stream with the most unconfirmed bytes. */
    synchronized String position() {
        Stream worst = null;
        for (Stream s : streams.values()) {
            if (!s.complete && (worst == null || s.sent - s.confirmed > worst.sent - worst.confirmed)) {
                worst = s;
            }
        }
        return worst == null ? "no open image" : "image " + worst.name + " offset " + worst.confirmed;
    }

    /**
     * The frames that continue the snapshot on a new connection, given what the cache holds: IMAGE_OPEN for streams it
     * never saw, the kept IMAGE_DATA from its offset on (slices of the kept buffers, each with its own reference), the
     * IMAGE_END it has not checked, and the commit if one was sent. Images the cache holds complete are forgotten.
     *
     * @throws IllegalStateException when what the cache holds cannot be continued from what is kept (an offset below
     *                               the first kept byte or above the last sent one, an image unknown here)
     */
    synchronized List<WireMessage> replay(SnapshotReattached held) {
        Map<ImageName, SnapshotReattached.HeldImage> byName = new HashMap<>();
        for (SnapshotReattached.HeldImage h : held.images()) {
            byName.put(h.name(), h);
        }
        List<WireMessage> out = new ArrayList<>();
        for (Map.Entry<Integer, Stream> e : streams.entrySet()) {
            int id = e.getKey();
            Stream s = e.getValue();
            SnapshotReattached.HeldImage h = byName.remove(s.name);
            if (s.complete) {
                continue;
            }
            if (h != null && h.complete()) {
                s.complete = true;
                confirm(s, s.sent);
                continue;
            }
            long from = h == null ? 0 : h.size();
            long first = s.data.isEmpty() ? s.sent : s.data.peekFirst().offset();
            if (from < first || from > s.sent) {
                throw new IllegalStateException("image " + s.name + ": the cache holds " + from + " bytes, this proxy"
                        + " kept bytes " + first + " to " + s.sent + " (expected: an offset in between)");
            }
            if (h != null && h.streamId() != id) {
                throw new IllegalStateException("image " + s.name + ": the cache has it on stream " + h.streamId()
                        + " (expected: " + id + ")");
            }
            if (h == null) {
                out.add(new ImageOpen(id, s.name));
            }
            confirm(s, from);
            for (Kept k : s.data) {
                long skip = Math.max(0, from - k.offset());
                int n = (int) (k.buf().readableBytes() - skip);
                out.add(new ImageData(id, k.buf().retainedSlice(k.buf().readerIndex() + (int) skip, n)));
            }
            if (s.end != null) {
                out.add(s.end);
            }
        }
        if (!byName.isEmpty()) {
            out.forEach(m -> {
                if (m instanceof ImageData d) {
                    d.release();
                }
            });
            throw new IllegalStateException("the cache holds images this proxy never sent: " + byName.keySet());
        }
        if (commit != null) {
            out.add(commit);
        }
        return out;
    }

    /** Releases everything kept. Idempotent. */
    synchronized void clear() {
        for (Stream s : streams.values()) {
            for (Kept k : s.data) {
                k.buf().release();
            }
            s.data.clear();
        }
        kept = 0;
    }
}
