package dev.ferry.protocol.image;

import java.util.Optional;

/**
 * Where the restore engine finds the images of one committed snapshot (the cache implements it with the
 * memory it owns; tests with maps). Safe to call from several serving threads at once.
 */
public interface ImageSource {

    /** The image, or empty when the snapshot has no image of that name (CRIU is told "does not exist"). */
    Optional<StoredImage> find(ImageName name);
}
