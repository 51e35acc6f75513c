package dev.ferry.protocol.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.zip.Checksum;

/** The byte stream of one image on its way out. Used by one drain thread at a time. */
public interface ImageOutput {

    /**
     * Sends the bytes remaining in {@code src}, blocking while the transport cannot take more
     * (backpressure). The caller keeps ownership of {@code src} and may reuse it once this returns.
     */
    void write(ByteBuffer src) throws IOException;

    /**
     * Reads once from {@code in} and sends what was read, blocking first while the transport cannot take more;
     * {@code checksum} is updated with exactly the bytes sent. Returns the number of bytes read, or -1 at EOF.
     * A transport overrides this to read straight into a buffer it then sends without copying it again; this
     * default reads into {@code scratch} (the caller's, reused) and {@link #write}s it.
     */
    default int transferFrom(ReadableByteChannel in, Checksum checksum, ByteBuffer scratch) throws IOException {
        scratch.clear();
        int n = in.read(scratch);
        if (n > 0) {
            scratch.flip();
            checksum.update(scratch.duplicate());
            write(scratch);
        }
        return n;
    }

    /** The image reached EOF; {@code size} and {@code crc32c} cover every byte written. */
    void finish(long size, int crc32c) throws IOException;
}
