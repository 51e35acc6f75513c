package dev.ferry.dump;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A post-copy dump failed before the target was told to run the tree: CRIU resumed the source. Its post-dump hook had
 * said ok, so CRIU did not remove its network lock: the caller does ({@code NetworkLock.removeLeftovers}). CRIU does
 * not take the connections it dumped with {@code --tcp-established} out of repair mode either; the engine does, while
 * the tasks are still frozen, and the message says whether it could.
 */
public final class LazyRollbackException extends IOException {

    private final Path logPath;

    public LazyRollbackException(String message, Path logPath) {
        super(message);
        this.logPath = logPath;
    }

    /** CRIU's dump log on the source. */
    public Path logPath() {
        return logPath;
    }
}
