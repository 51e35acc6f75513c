package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.ImageEnd;
import dev.ferry.protocol.codec.ImageOpen;
import dev.ferry.protocol.codec.Received;
import dev.ferry.protocol.codec.SnapshotAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotCommit;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.codec.SnapshotReattach;
import dev.ferry.protocol.codec.SnapshotReattached;
import dev.ferry.protocol.codec.WireMessage;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cache's side of a resumed snapshot, against scripted image-proxy connections: RECEIVED offsets, a dropped
 * connection parked, and a SNAPSHOT_REATTACH that must name the snapshot, its token, from the same peer, in time.
 */
class ReattachTest {

    private static final SnapshotName WEB1 = SnapshotName.of("web1");
    private static final ImageName PAGES = ImageName.of("pages-1.img");
    private static final String SOURCE = "10.231.50.1";

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private final PeerSnapshots peers = new PeerSnapshots();
    private final io.netty.util.concurrent.DefaultEventExecutor timers = new io.netty.util.concurrent.DefaultEventExecutor();
    private final ResumableSnapshots resumables = new ResumableSnapshots(store, peers, CacheEvents.NONE, Duration.ZERO,
            timers);
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    @AfterEach
    void tearDown() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
        timers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        store.close();
    }

    /** A connection from {@code host}, hello done. */
    private EmbeddedChannel connect(String host) {
        SocketAddress remote = new InetSocketAddress(host, 40000 + channels.size());
        EmbeddedChannel ch = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target",
                CacheLimits.defaults(), peers, null, resumables)) {
            @Override
            protected SocketAddress remoteAddress0() {
                return remote;
            }
        };
        channels.add(ch);
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        return ch;
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    private static void send(EmbeddedChannel ch, byte[] bytes, int from, int to) {
        for (int off = from; off < to; off += Wire.MAX_DATA_PAYLOAD) {
            ch.writeInbound(new ImageData(1, Unpooled.wrappedBuffer(bytes, off, Math.min(Wire.MAX_DATA_PAYLOAD, to - off))));
        }
    }

    /** Begins WEB1 with a budget, sends {@code sent} bytes of {@code pages} and drops the connection; the token. */
    private long beginSendAndDrop(byte[] pages, int sent, long retryForMillis) {
        EmbeddedChannel a = connect(SOURCE);
        a.writeInbound(new SnapshotBegin(WEB1, pages.length, 42, "", null, retryForMillis));
        SnapshotReady ready = assertInstanceOf(SnapshotReady.class, a.readOutbound());
        assertNotEquals(0, ready.token(), "a resumable snapshot gets a token");
        a.writeInbound(new ImageOpen(1, PAGES));
        send(a, pages, 0, sent);
        a.close();
        assertEquals(1, resumables.parkedCount(), "the dropped snapshot waits for a reattach");
        assertEquals(StoredSnapshot.State.RECEIVING, store.get(WEB1).orElseThrow().state());
        return ready.token();
    }

    private static ErrorMessage refused(EmbeddedChannel ch, ErrorCode code) {
        ch.runPendingTasks();
        WireMessage out = ch.readOutbound();
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, out);
        assertEquals(code, e.code(), e.message());
        assertFalse(ch.isActive());
        return e;
    }

    @Test
    void confirmsReceivedBytesEveryTwoMebibytes() {
        EmbeddedChannel a = connect(SOURCE);
        a.writeInbound(new SnapshotBegin(WEB1, 0, 42, "", null, 10_000));
        assertInstanceOf(SnapshotReady.class, a.readOutbound());
        a.writeInbound(new ImageOpen(1, PAGES));
        byte[] pages = random(5 << 20);
        send(a, pages, 0, pages.length);
        assertEquals(new Received(List.of(new Received.StreamOffset(1, 2 << 20))), a.readOutbound());
        assertEquals(new Received(List.of(new Received.StreamOffset(1, 4 << 20))), a.readOutbound());
        assertNull(a.readOutbound(), "coalesced: one RECEIVED per 2 MiB");
    }

    @Test
    void notResumableWithoutBudget_droppedWithItsConnection() {
        EmbeddedChannel a = connect(SOURCE);
        a.writeInbound(new SnapshotBegin(WEB1, 0, 42));
        assertEquals(new SnapshotReady(WEB1, 0), a.readOutbound());
        a.writeInbound(new ImageOpen(1, PAGES));
        send(a, random(3 << 20), 0, 3 << 20);
        assertNull(a.readOutbound(), "no RECEIVED for a snapshot that is not resumable");
        a.close();
        assertTrue(store.get(WEB1).isEmpty());
    }

    @Test
    void reattachContinuesFromHeldOffset_commitVerifiesAllBytes() throws Exception {
        byte[] pages = random((3 << 20) + 1234);
        long token = beginSendAndDrop(pages, 3 << 20, 10_000);

        EmbeddedChannel b = connect(SOURCE);
        b.writeInbound(new SnapshotReattach(WEB1, token, 10_000));
        b.runPendingTasks();
        assertEquals(new SnapshotReattached(WEB1, List.of(new SnapshotReattached.HeldImage(PAGES, 1, 3 << 20, false))),
                b.readOutbound());
        send(b, pages, 3 << 20, pages.length);
        b.writeInbound(new ImageEnd(1, pages.length, crc(pages)));
        b.writeInbound(new SnapshotCommit(WEB1, List.of(new ImageDigest(PAGES, pages.length, crc(pages)))));
        assertEquals(new SnapshotAck(WEB1, pages.length, 1), b.readOutbound());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        store.committed(WEB1).orElseThrow().find(PAGES).orElseThrow().writeTo(Channels.newChannel(out));
        assertArrayEquals(pages, out.toByteArray());
        assertEquals(0, resumables.parkedCount());
    }

    @Test
    void resumedImageWithAlteredBytesFailsItsCheck() {
        byte[] pages = random((3 << 20) + 99);
        long token = beginSendAndDrop(pages, 3 << 20, 10_000);
        EmbeddedChannel b = connect(SOURCE);
        b.writeInbound(new SnapshotReattach(WEB1, token, 10_000));
        b.runPendingTasks();
        assertInstanceOf(SnapshotReattached.class, b.readOutbound());
        byte[] altered = pages.clone();
        altered[(3 << 20) + 7] ^= 0x10;
        send(b, altered, 3 << 20, pages.length);
        b.writeInbound(new ImageEnd(1, pages.length, crc(pages)));
        ErrorMessage e = refused(b, ErrorCode.INTEGRITY);
        assertTrue(e.message().contains("pages-1.img"), e.message());
    }

    @Test
    void reattachWithWrongToken_refused_snapshotStillWaits() {
        long token = beginSendAndDrop(random(1 << 20), 1 << 20, 10_000);
        EmbeddedChannel b = connect(SOURCE);
        b.writeInbound(new SnapshotReattach(WEB1, token + 1, 10_000));
        ErrorMessage e = refused(b, ErrorCode.REATTACH_REFUSED);
        assertTrue(e.message().contains("wrong resume token"), e.message());
        assertEquals(1, resumables.parkedCount());
    }

    @Test
    void reattachFromAnotherPeer_refused() {
        long token = beginSendAndDrop(random(1 << 20), 1 << 20, 10_000);
        EmbeddedChannel b = connect("10.231.50.99");
        b.writeInbound(new SnapshotReattach(WEB1, token, 10_000));
        ErrorMessage e = refused(b, ErrorCode.REATTACH_REFUSED);
        assertTrue(e.message().contains("expected: the peer that began it"), e.message());
        assertEquals(1, resumables.parkedCount());
    }

    @Test
    void reattachOfUnknownSnapshot_noSuchSnapshot() {
        EmbeddedChannel b = connect(SOURCE);
        b.writeInbound(new SnapshotReattach(SnapshotName.of("never-begun"), 1, 10_000));
        ErrorMessage e = refused(b, ErrorCode.NO_SUCH_SNAPSHOT);
        assertTrue(e.message().contains("no such snapshot"), e.message());
    }

    @Test
    void reattachAfterTheBudget_snapshotDropped_clearError() throws Exception {
        long token = beginSendAndDrop(random(1 << 20), 1 << 20, 30);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (store.get(WEB1).isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, resumables.parkedCount());
        assertTrue(store.get(WEB1).isEmpty(), "the partial snapshot is dropped once its budget ran out");
        assertEquals(0, store.budget().used(), "and its memory freed");
        EmbeddedChannel b = connect(SOURCE);
        b.writeInbound(new SnapshotReattach(WEB1, token, 10_000));
        ErrorMessage e = refused(b, ErrorCode.NO_SUCH_SNAPSHOT);
        assertTrue(e.message().contains("retry budget of 30 ms"), e.message());
    }
}
