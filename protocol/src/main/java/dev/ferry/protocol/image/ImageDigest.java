package dev.ferry.protocol.image;

import java.util.Objects;

/** Size and CRC32C of one complete image: one line of a snapshot's manifest. */
public record ImageDigest(ImageName name, long size, int crc32c) {
    public ImageDigest {
        Objects.requireNonNull(name, "name");
        if (size < 0) {
            throw new IllegalArgumentException("image size: " + size + " (expected: >= 0)");
        }
    }
}
