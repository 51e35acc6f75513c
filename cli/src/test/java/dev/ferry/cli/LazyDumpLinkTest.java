package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.cache.StoredSnapshot;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.control.ControlClient;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.RemoveRequest;
import dev.ferry.protocol.control.RestoreRequest;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.proxy.CacheLink;
import dev.ferry.proxy.CacheRefusedException;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry dump --lazy}'s half of the link against a real image-cache over loopback TCP, in one JVM, without CRIU:
 * the cache holds a committed lazy snapshot with its connection, refuses a restore that does not fit it (with or
 * without {@code --lazy}) and keeps it, and when no restore begins within the lazy timeout the link fails (so CRIU
 * resumes the source) and the cache drops the snapshot.
 */
class LazyDumpLinkTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final byte[] INVENTORY = "inventory".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @TempDir
    Path runDir;

    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;

    @BeforeEach
    void start() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run here: no restore begins
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), null, null));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        cache.close();
    }

    private CacheLink link() throws Exception {
        return CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(), "source", TIMEOUT);
    }

    /** Begins {@code name} as {@code ferry dump --lazy} would, sends one image and commits; returns once acknowledged. */
    private static void commitLazy(CacheLink link, SnapshotName name, long lazyTimeoutMillis) throws Exception {
        link.begin(new SnapshotBegin(name, 1 << 20, 42, "4.2.1", null, 0, true, lazyTimeoutMillis), TIMEOUT);
        commitInventory(link);
    }

    private static void commitInventory(CacheLink link) throws Exception {
        ImageOutput out = link.open(ImageName.of("inventory.img"));
        out.write(ByteBuffer.wrap(INVENTORY));
        CRC32C crc = new CRC32C();
        crc.update(INVENTORY);
        out.finish(INVENTORY.length, (int) crc.getValue());
        link.commit(List.of(new ImageDigest(ImageName.of("inventory.img"), INVENTORY.length, (int) crc.getValue())))
                .get(10, TimeUnit.SECONDS);
    }

    private Result restore(String snapshot, boolean lazy) {
        return ControlClient.call(runDir.resolve(CacheConfig.CONTROL_SOCKET), "image-cache", Request.newBuilder()
                .setRestore(RestoreRequest.newBuilder().setSnapshot(snapshot).setLazy(lazy)).build(), p -> { });
    }

    @Test
    void noRestoreWithinTheLazyTimeout_linkFails_cacheDropsTheSnapshot() throws Exception {
        SnapshotName name = SnapshotName.of("lazy1");
        try (CacheLink link = link()) {
            commitLazy(link, name, 400);
            StoredSnapshot held = cache.store().committed(name).orElseThrow();
            assertTrue(held.isLazy(), "the cache knows the snapshot's pages are still on the source");
            long committedAt = System.nanoTime();

            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> link.pageServer().failed().get(5, TimeUnit.SECONDS));
            long millis = (System.nanoTime() - committedAt) / 1_000_000;
            assertTrue(millis >= 300, "the link gave up after " + millis + " ms (expected: the 400 ms lazy timeout)");
            String why = failed.getCause().getMessage();
            assertTrue(why.contains("no `ferry restore -D lazy1 --remote --lazy` began") && why.contains("--lazy-timeout"),
                    why);
            assertFalse(link.pageServer().targetMayRun(), "nothing was handed out: the source may resume");
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (cache.store().get(name).isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(cache.store().get(name).isEmpty(), "the cache still holds the lazy snapshot after its source gave up");
    }

    @Test
    void removingAHeldLazySnapshotClosesItsLinkAtOnce_soTheSourceResumes() throws Exception {
        SnapshotName name = SnapshotName.of("lazy5");
        try (CacheLink link = link()) {
            commitLazy(link, name, 60_000);
            long removedAt = System.nanoTime();
            Result rm = ControlClient.call(runDir.resolve(CacheConfig.CONTROL_SOCKET), "image-cache", Request.newBuilder()
                    .setRemove(RemoveRequest.newBuilder().setSnapshot("lazy5")).build(), p -> { });
            assertTrue(rm.getOk(), rm.getMessage());
            assertThrows(ExecutionException.class, () -> link.pageServer().failed().get(5, TimeUnit.SECONDS),
                    "the link stayed up after its lazy snapshot was removed: the source would stay frozen until"
                            + " --lazy-timeout (60 s here)");
            long millis = (System.nanoTime() - removedAt) / 1_000_000;
            assertTrue(millis < 5_000, "the link closed only after " + millis + " ms");
            assertFalse(link.pageServer().targetMayRun(), "nothing was handed out: the source may resume");
            assertTrue(cache.store().get(name).isEmpty(), "the removed snapshot is still there");
        }
    }

    @Test
    void restoreWithoutLazyOfALazySnapshotIsRefused_snapshotStaysHeld() throws Exception {
        SnapshotName name = SnapshotName.of("lazy2");
        try (CacheLink link = link()) {
            commitLazy(link, name, 60_000);
            Result r = restore("lazy2", false);
            assertFalse(r.getOk());
            assertEquals(ExitCode.REFUSED.code(), r.getExitCode());
            assertTrue(r.getMessage().contains("dumped with `ferry dump --remote --lazy`")
                    && r.getMessage().contains("expected: --lazy") && r.getMessage().contains(
                    "run `ferry restore -D lazy2 --remote --lazy`"), r.getMessage());
            assertEquals(StoredSnapshot.State.COMMITTED, cache.store().get(name).orElseThrow().state());
            assertFalse(link.pageServer().failed().isDone(), "a refused restore must not disturb the source's link");
            // the daemon keeps serving: the same request again gets the same answer
            assertEquals(ExitCode.REFUSED.code(), restore("lazy2", false).getExitCode());
        }
    }

    @Test
    void restoreLazyWithKeepIsRefused_snapshotStaysHeld() throws Exception {
        SnapshotName name = SnapshotName.of("lazy4");
        try (CacheLink link = link()) {
            commitLazy(link, name, 60_000);
            Result r = ControlClient.call(runDir.resolve(CacheConfig.CONTROL_SOCKET), "image-cache", Request.newBuilder()
                    .setRestore(RestoreRequest.newBuilder().setSnapshot("lazy4").setLazy(true).setKeep(true)).build(),
                    p -> { });
            assertEquals(ExitCode.USAGE.code(), r.getExitCode(), r.getMessage());
            assertTrue(r.getMessage().contains("--keep with --lazy"), r.getMessage());
            assertEquals(StoredSnapshot.State.COMMITTED, cache.store().get(name).orElseThrow().state());
            assertFalse(link.pageServer().failed().isDone(), "a refused restore must not disturb the source's link");
        }
    }

    @Test
    void restoreWithLazyOfAPlainSnapshotIsRefused_snapshotStaysForAPlainRestore() throws Exception {
        SnapshotName name = SnapshotName.of("plain1");
        try (CacheLink link = link()) {
            link.begin(name, 1 << 20, 42, TIMEOUT);
            commitInventory(link);
        }
        Result r = restore("plain1", true);
        assertFalse(r.getOk());
        assertEquals(ExitCode.REFUSED.code(), r.getExitCode());
        assertTrue(r.getMessage().contains("holds all its pages here") && r.getMessage().contains("dumped without --lazy")
                && r.getMessage().contains("run `ferry restore -D plain1 --remote` without --lazy"), r.getMessage());
        StoredSnapshot kept = cache.store().committed(name).orElseThrow();
        assertFalse(kept.isLazy());
        assertEquals(StoredSnapshot.State.COMMITTED, kept.state());
    }

    @Test
    void lazyDumpIsRefusedBeforeAnythingIsFrozenWhenCriuVersionsDiffer() throws Exception {
        try (CacheLink link = link()) {
            CacheRefusedException e = assertThrows(CacheRefusedException.class, () -> link.begin(new SnapshotBegin(
                    SnapshotName.of("lazy3"), 1 << 20, 42, "4.1.1", null, 0, true, 60_000), TIMEOUT));
            assertEquals(ErrorCode.PREFLIGHT_FAILED, e.code());
            assertTrue(e.getMessage().contains("post-copy dump of lazy3 refused before anything was frozen")
                    && e.getMessage().contains("4.1.1") && e.getMessage().contains("4.2.1"), e.getMessage());
        }
        assertTrue(cache.store().get(SnapshotName.of("lazy3")).isEmpty());
    }
}
