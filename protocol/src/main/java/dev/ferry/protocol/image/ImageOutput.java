package dev.ferry.protocol.image;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The byte stream of one image on its way out. Used by one drain thread at a time. */
public interface ImageOutput {

    /**
     * Sends the bytes remaining in {@code src}, blocking while the transport cannot take more
     * (backpressure). The caller keeps ownership of {@code src} and may reuse it once this returns.
     */
    void write(ByteBuffer src) throws IOException;

    /** The image reached EOF; {@code size} and {@code crc32c} cover every byte written. */
    void finish(long size, int crc32c) throws IOException;
}
