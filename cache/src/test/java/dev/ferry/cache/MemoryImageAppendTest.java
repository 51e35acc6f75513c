package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.protocol.image.ImageName;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** Frames arrive as slices of several socket reads, at any alignment; the image holds exactly their bytes. */
class MemoryImageAppendTest {

    @Test
    void appendsSlicesOfCompositeDirectAndHeapBuffersAtOddOffsetsByteForByte() throws Exception {
        byte[] data = new byte[(9 << 20) + 4321];
        new Random(11).nextBytes(data);
        try (SnapshotStore store = new SnapshotStore(new MemoryBudget(64L << 20))) {
            MemoryImage image = new MemoryImage(ImageName.of("pages-1.img"), UnpooledByteBufAllocator.DEFAULT,
                    store.budget(), store.chunks());
            int at = 0;
            int frame = 0;
            while (at < data.length) {
                // a "frame": a 10-byte header then a payload, spread over reads of 16 KiB + odd sizes
                int payload = Math.min(data.length - at, 262_144 - (frame % 3) * 4099);
                CompositeByteBuf reads = Unpooled.compositeBuffer();
                byte[] withHeader = new byte[10 + payload];
                System.arraycopy(data, at, withHeader, 10, payload);
                for (int off = 0; off < withHeader.length; ) {
                    int n = Math.min(withHeader.length - off, 16_384 + 7 * (frame % 5));
                    ByteBuf read = frame % 4 == 3 ? Unpooled.buffer(n) : Unpooled.directBuffer(n);
                    read.writeBytes(withHeader, off, n);
                    reads.addComponent(true, read);
                    off += n;
                }
                ByteBuf slice = reads.slice(10, payload);
                image.append(slice);
                reads.release();
                at += payload;
                frame++;
            }
            image.complete();
            CRC32C crc = new CRC32C();
            crc.update(data);
            assertEquals((int) crc.getValue(), image.crc32c());
            assertEquals(data.length, image.size());
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            image.writeTo(Channels.newChannel(out));
            assertArrayEquals(data, out.toByteArray());
            assertEquals((int) crc.getValue(), image.recomputeCrc32c());
            image.release();
        }
    }
}
