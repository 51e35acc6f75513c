package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotReady;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cache's connection guard (count, handshake timeout, idle timeout) with a scripted peer and a mock clock. */
class ConnectionGuardTest {

    private static final CacheLimits LIMITS = new CacheLimits(Duration.ofSeconds(2), Duration.ofSeconds(5), 2, 10, 4);

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(16L << 20));
    private final AtomicInteger open = new AtomicInteger();
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    @AfterEach
    void tearDown() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
        store.close();
    }

    private EmbeddedChannel connect() {
        EmbeddedChannel ch = new EmbeddedChannel(new ConnectionGuard(LIMITS, open, CacheEvents.NONE),
                new ImageReceiveHandler(store, CacheEvents.NONE, "target", LIMITS, new PeerSnapshots()));
        ch.freezeTime();
        channels.add(ch);
        return ch;
    }

    private static ErrorMessage expectErrorAndClose(EmbeddedChannel ch, ErrorCode code, String flag) {
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, ch.readOutbound());
        assertEquals(code, e.code(), e.message());
        assertTrue(e.message().contains(flag), e.message());
        assertTrue(e.message().contains("expected"), e.message());
        assertFalse(ch.isActive(), "the connection is closed after the error");
        return e;
    }

    @Test
    void refusesConnectionsAboveMaxConnectionsAtOnce() {
        EmbeddedChannel first = connect();
        EmbeddedChannel second = connect();
        EmbeddedChannel third = connect();
        assertTrue(first.isActive());
        assertTrue(second.isActive());
        ErrorMessage e = expectErrorAndClose(third, ErrorCode.RESOURCE_LIMIT, "--max-connections");
        assertTrue(e.message().contains("3 (expected: <= 2)"), e.message());
        assertEquals(2, open.get(), "a refused connection frees its slot when it closes");
    }

    @Test
    void closedConnectionFreesItsSlotForTheNext() {
        EmbeddedChannel first = connect();
        connect();
        first.close();
        assertEquals(1, open.get());
        EmbeddedChannel next = connect();
        assertTrue(next.isActive());
        assertNull(next.readOutbound());
    }

    @Test
    void closesConnectionThatNeverSaysHelloWithinHandshakeTimeout() {
        EmbeddedChannel ch = connect();
        ch.advanceTimeBy(1900, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isActive(), "still within the handshake budget");
        ch.advanceTimeBy(200, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        expectErrorAndClose(ch, ErrorCode.PROTOCOL_ERROR, "--handshake-timeout");
        assertEquals(0, open.get());
    }

    @Test
    void helloInTimeEndsTheHandshakeBudget() {
        EmbeddedChannel ch = connect();
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        ch.advanceTimeBy(3, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isActive());
        assertNull(ch.readOutbound());
    }

    @Test
    void closesSilentConnectionAfterIdleTimeout_openSnapshotDropped() {
        EmbeddedChannel ch = connect();
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        SnapshotName web1 = SnapshotName.of("web1");
        ch.advanceTimeBy(4, TimeUnit.SECONDS);
        ch.writeInbound(new SnapshotBegin(web1, 0, 1)); // a read: the idle clock starts again
        assertEquals(new SnapshotReady(web1), ch.readOutbound());
        ch.advanceTimeBy(4, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isActive(), "4 s of silence is below the 5 s idle timeout");
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        expectErrorAndClose(ch, ErrorCode.PROTOCOL_ERROR, "--idle-timeout");
        assertTrue(store.get(web1).isEmpty(), "the snapshot open on the idle connection is dropped");
    }

    @Test
    void silenceWhileThePeerWaitsForTheCacheIsNotIdleness() {
        EmbeddedChannel ch = connect();
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        ConnectionGuard.PeerWait restoring = ConnectionGuard.peerWaits(ch); // e.g. a migration's restore of several minutes
        for (int i = 0; i < 12; i++) {
            ch.advanceTimeBy(4, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
        }
        assertTrue(ch.isActive(), "closed as idle while the peer waited for the cache's own work");
        restoring.close();
        restoring.close(); // idempotent
        ch.advanceTimeBy(4, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isActive(), "the idle clock must start when the cache's work ends, not before");
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        expectErrorAndClose(ch, ErrorCode.PROTOCOL_ERROR, "--idle-timeout");
    }
}
