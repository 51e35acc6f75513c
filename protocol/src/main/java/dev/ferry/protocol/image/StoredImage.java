package dev.ferry.protocol.image;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;

/** One complete image held by a store, readable any number of times, by several threads at once. */
public interface StoredImage {

    long size();

    /** Writes every byte of the image to {@code out}, blocking as needed; does not close {@code out}. */
    void writeTo(WritableByteChannel out) throws IOException;
}
