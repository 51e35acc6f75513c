package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Pipes;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.MemoryRegion;
import dev.ferry.protocol.image.SnapshotName;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A held image is served into CRIU's pipe by reference: its chunks' memory, in order, is exactly the image. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MemoryImageServeTest {

    /** 64 KiB + 128 KiB + ... + 2 MiB in six small chunks, then three pool chunks of 4 MiB, the last one partly filled. */
    private static final int IMAGE_BYTES = (14 << 20) + 12345;

    private final SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20));

    @AfterEach
    void tearDown() {
        store.close();
    }

    @Test
    void servesAnImageOfSeveralChunksIntoAPipeByteForByte() throws Exception {
        byte[] data = new byte[IMAGE_BYTES];
        new Random(7).nextBytes(data);
        MemoryImage image = image("pages-1.img", data);

        List<MemoryRegion> regions = image.regions().orElseThrow();
        assertEquals(9, regions.size());
        assertEquals(ChunkPool.CHUNK, regions.get(6).length());
        assertEquals(IMAGE_BYTES, regions.stream().mapToLong(MemoryRegion::length).sum());

        byte[] read = serveThroughPipe(regions);

        assertArrayEquals(data, read);
        CRC32C crc = new CRC32C();
        crc.update(read);
        assertEquals(image.crc32c(), (int) crc.getValue());
        assertEquals(image.recomputeCrc32c(), (int) crc.getValue());
    }

    @Test
    void anEmptyImageHasNoRegions() throws Exception {
        assertEquals(List.of(), image("memfd.img", new byte[0]).regions().orElseThrow());
    }

    @Test
    void anIncompleteOrReleasedImageRefusesToLendItsMemory() throws Exception {
        MemoryImage receiving = new MemoryImage(ImageName.of("core-1.img"), UnpooledByteBufAllocator.DEFAULT,
                store.budget(), store.chunks());
        receiving.append(Unpooled.wrappedBuffer(new byte[100]));
        assertTrue(assertThrows(IOException.class, receiving::regions).getMessage().endsWith("is not complete"));
        receiving.complete();
        receiving.release();
        assertTrue(assertThrows(IOException.class, receiving::regions).getMessage().endsWith("is released"));
    }

    @Test
    void closingTheStoreLeavesASnapshotBeingRestoredToItsRestore() throws Exception {
        SnapshotStore closing = new SnapshotStore(new MemoryBudget(64L << 20));
        StoredSnapshot restoring = closing.begin(SnapshotName.of("web1"), "source", 0);
        MemoryImage image = new MemoryImage(ImageName.of("pages-1.img"), UnpooledByteBufAllocator.DEFAULT,
                closing.budget(), closing.chunks());
        restoring.add(image);
        image.append(Unpooled.wrappedBuffer(new byte[5 << 20]));
        image.complete();
        closing.commit(restoring);
        assertTrue(closing.startRestore(restoring));

        closing.close(); // CRIU may still be reading pages it was lent

        assertSame(restoring, closing.get(SnapshotName.of("web1")).orElseThrow());
        assertEquals(5 << 20, image.regions().orElseThrow().stream().mapToLong(MemoryRegion::length).sum());
        assertTrue(closing.drop(restoring)); // what the restore does once CRIU exited
        assertEquals(0, closing.budget().used());
        assertFalse(closing.get(SnapshotName.of("web1")).isPresent());
    }

    private MemoryImage image(String name, byte[] data) {
        MemoryImage image = new MemoryImage(ImageName.of(name), UnpooledByteBufAllocator.DEFAULT, store.budget(),
                store.chunks());
        StoredSnapshot s = store.begin(SnapshotName.of("s-" + name.replace('.', '-')), "source", 0);
        s.add(image); // released with the store
        for (int off = 0; off < data.length; off += 65_000) { // frame-sized appends that straddle chunk ends
            image.append(Unpooled.wrappedBuffer(data, off, Math.min(65_000, data.length - off)));
        }
        image.complete();
        return image;
    }

    /** vmsplices the regions into a pipe far smaller than them while another thread reads it to EOF. */
    private static byte[] serveThroughPipe(List<MemoryRegion> regions) throws Exception {
        FileDescriptorHandle[] pipe = Pipes.pipe();
        try (FileChannel in = pipe[0].openChannel(false)) {
            pipe[0].close();
            CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> readAll(in));
            try (FileDescriptorHandle writeEnd = pipe[1]) {
                for (MemoryRegion r : regions) {
                    Pipes.vmspliceFully(writeEnd, r.address(), r.length());
                }
            }
            return reader.get(30, TimeUnit.SECONDS);
        } finally {
            pipe[0].closeQuietly();
            pipe[1].closeQuietly();
        }
    }

    private static byte[] readAll(FileChannel in) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        try {
            while (in.read(b.clear()) >= 0) {
                out.write(b.array(), 0, b.position());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }
}
