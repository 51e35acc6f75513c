package dev.ferry.dump;

import java.io.IOException;

/**
 * The snapshot was captured but not committed (the sink refused it, the link broke, or the commit timed out), so
 * the post-dump hook failed and CRIU resumed the source. The cause is the sink's failure; the CRIU outcome is
 * attached as a suppressed exception.
 */
public final class DumpCommitException extends IOException {

    private static final long serialVersionUID = 1L;

    public DumpCommitException(String message, Throwable cause) {
        super(message, cause);
    }
}
