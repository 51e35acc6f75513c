package dev.ferry.restore;

import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageSource;
import dev.ferry.protocol.image.MemoryRegion;
import dev.ferry.protocol.image.StoredImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * An {@link ImageSource} over byte arrays, for tests; {@link #inNativeMemory} makes it hold them in native memory
 * instead, in regions of at most 1 MiB, like the cache's chunks.
 */
final class MapSource implements ImageSource {

    private static final int REGION_BYTES = 1 << 20;

    final Map<String, byte[]> images = new ConcurrentHashMap<>();
    /** Kept reachable for as long as the source: the pipes may reference these pages until CRIU reads them. */
    private final Map<String, List<Pointer>> nativeImages = new ConcurrentHashMap<>();
    private final boolean nativeMemory;

    MapSource() {
        this(false);
    }

    private MapSource(boolean nativeMemory) {
        this.nativeMemory = nativeMemory;
    }

    static MapSource inNativeMemory() {
        return new MapSource(true);
    }

    MapSource put(String name, byte[] bytes) {
        images.put(name, bytes);
        if (nativeMemory) {
            List<Pointer> regions = new ArrayList<>();
            for (int at = 0; at < bytes.length; at += REGION_BYTES) {
                int n = Math.min(REGION_BYTES, bytes.length - at);
                Pointer p = Memory.allocateDirect(Runtime.getSystemRuntime(), n);
                p.put(0, bytes, at, n);
                regions.add(p);
            }
            nativeImages.put(name, regions);
        }
        return this;
    }

    @Override
    public Optional<StoredImage> find(ImageName name) {
        byte[] bytes = images.get(name.value());
        if (bytes == null) {
            return Optional.empty();
        }
        return Optional.of(new StoredImage() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }

            @Override
            public Optional<List<MemoryRegion>> regions() {
                List<Pointer> held = nativeImages.get(name.value());
                if (held == null) {
                    return Optional.empty();
                }
                return Optional.of(held.stream().map(p -> new MemoryRegion(p.address(), p.size())).toList());
            }
        });
    }
}
