package dev.ferry.dump;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Post-copy failed after the target ran the tree: pages were still on the source when the link, the image-proxy or
 * the target's {@code criu lazy-pages} failed, or the lazy timeout passed. The tree cannot go on without them; the
 * source's copy is stale, so it was ended too.
 */
public final class LazyPagesException extends IOException {

    private final Path logPath;

    public LazyPagesException(String message, Path logPath) {
        super(message);
        this.logPath = logPath;
    }

    /** CRIU's dump log on the source. */
    public Path logPath() {
        return logPath;
    }
}
