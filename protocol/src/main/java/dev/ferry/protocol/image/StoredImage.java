package dev.ferry.protocol.image;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.Optional;

/** One complete image held by a store, readable any number of times, by several threads at once. */
public interface StoredImage {

    long size();

    /** Writes every byte of the image to {@code out}, blocking as needed; does not close {@code out}. */
    void writeTo(WritableByteChannel out) throws IOException;

    /**
     * The image's bytes as regions of native memory, in order, their lengths adding up to {@link #size()}; or
     * empty if the image is not held in native memory, in which case readers use {@link #writeTo}. The restore
     * engine gives these regions to CRIU's pipe by reference ({@code vmsplice(2)}): the pipe then holds the pages,
     * not a copy, until CRIU reads them.
     *
     * <p>Ownership: the regions stay the store's. A store that answers here promises that the memory neither
     * changes nor is freed or reused while a restore that asked for it may still read it, that is, until that
     * restore's CRIU has exited; say in the implementation how that is ensured.
     */
    default Optional<List<MemoryRegion>> regions() throws IOException {
        return Optional.empty();
    }
}
