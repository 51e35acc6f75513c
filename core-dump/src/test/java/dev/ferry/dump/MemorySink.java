package dev.ferry.dump;

import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.ImageSink;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** An {@link ImageSink} into memory for tests, with a scriptable commit. */
final class MemorySink implements ImageSink {

    final Map<String, ByteArrayOutputStream> data = new ConcurrentHashMap<>();
    final Map<String, ImageDigest> finished = new ConcurrentHashMap<>();
    final List<String> opened = new CopyOnWriteArrayList<>();
    final List<String> aborts = new CopyOnWriteArrayList<>();
    volatile List<ImageDigest> committedManifest;
    volatile Function<List<ImageDigest>, CompletableFuture<Void>> commitBehaviour = m -> CompletableFuture.completedFuture(null);
    volatile String failWritesOf;
    volatile String slowOpenOf;

    @Override
    public ImageOutput open(ImageName name) throws IOException {
        if (name.value().equals(slowOpenOf)) {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        }
        opened.add(name.value());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        data.put(name.value(), bytes);
        return new ImageOutput() {
            @Override
            public void write(ByteBuffer src) throws IOException {
                if (name.value().equals(failWritesOf)) {
                    throw new IOException("link to the cache broke");
                }
                byte[] b = new byte[src.remaining()];
                src.get(b);
                synchronized (bytes) {
                    bytes.write(b);
                }
            }

            @Override
            public void finish(long size, int crc32c) {
                finished.put(name.value(), new ImageDigest(name, size, crc32c));
            }
        };
    }

    @Override
    public CompletableFuture<Void> commit(List<ImageDigest> manifest) {
        committedManifest = manifest;
        return commitBehaviour.apply(manifest);
    }

    @Override
    public void abort(String reason) {
        aborts.add(reason);
    }

    byte[] bytes(String name) {
        return data.get(name).toByteArray();
    }
}
