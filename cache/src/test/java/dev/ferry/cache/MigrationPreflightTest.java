package dev.ferry.cache;

import dev.ferry.criu.Criu;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.Hello;
import dev.ferry.protocol.codec.HelloAck;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;
import dev.ferry.restore.RestoreEngine;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A migration's SNAPSHOT_BEGIN is refused before anything is frozen when the target cannot take it. */
class MigrationPreflightTest {

    private static final SnapshotName WEB1 = SnapshotName.of("web1");

    @TempDir
    Path work;

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));
    private EmbeddedChannel ch;

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        store.close();
    }

    private ErrorMessage begin(MigrationTarget migrations, String criuVersion, MigrateSpec spec) {
        ch = new EmbeddedChannel(new ImageReceiveHandler(store, CacheEvents.NONE, "target", CacheLimits.defaults(),
                new PeerSnapshots(), migrations));
        ch.writeInbound(new Hello(Wire.VERSION, "source", Wire.DEFAULT_MAX_FRAME_SIZE));
        assertInstanceOf(HelloAck.class, ch.readOutbound());
        ch.writeInbound(new SnapshotBegin(WEB1, 1000, 42, criuVersion, spec));
        ErrorMessage e = assertInstanceOf(ErrorMessage.class, ch.readOutbound());
        assertEquals(ErrorCode.PREFLIGHT_FAILED, e.code(), e.message());
        assertTrue(e.message().contains("before anything was frozen"), e.message());
        assertTrue(store.list().isEmpty(), "nothing is held for a refused migration");
        assertFalse(ch.isActive());
        return e;
    }

    private MigrationTarget target(String version) {
        Criu criu = new Criu(Path.of("/bin/true"), version);
        return new MigrationTarget(store, new RestoreEngine(criu, work), criu, "target",
                new AddressJournal(work.resolve("migrations")));
    }

    @Test
    void cacheWithoutMigrationSupportRefuses() {
        begin(null, "4.2.1", MigrateSpec.getDefaultInstance());
    }

    @Test
    void criuVersionMismatchNamesBothVersions() {
        ErrorMessage e = begin(target("4.2.1"), "4.2.0", MigrateSpec.getDefaultInstance());
        assertTrue(e.message().contains("4.2.0") && e.message().contains("4.2.1"), e.message());
    }

    @Test
    void badOrTakenServiceAddressIsRefused() {
        ErrorMessage bad = begin(target("4.2.1"), "4.2.1", MigrateSpec.newBuilder().setMoveIp("10.0.0.300/32").build());
        assertTrue(bad.message().contains("not an IPv4 address"), bad.message());
        ch.finishAndReleaseAll();
        ErrorMessage taken = begin(target("4.2.1"), "4.2.1", MigrateSpec.newBuilder().setMoveIp("127.0.0.1/32").build());
        assertTrue(taken.message().contains("already assigned"), taken.message());
    }
}
