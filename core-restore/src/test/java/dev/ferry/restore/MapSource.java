package dev.ferry.restore;

import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageSource;
import dev.ferry.protocol.image.StoredImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** An {@link ImageSource} over byte arrays, for tests. */
final class MapSource implements ImageSource {

    final Map<String, byte[]> images = new ConcurrentHashMap<>();

    MapSource put(String name, byte[] bytes) {
        images.put(name, bytes);
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
        });
    }
}
