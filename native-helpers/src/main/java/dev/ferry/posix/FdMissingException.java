package dev.ferry.posix;

import java.io.IOException;

/**
 * The peer sent the byte that should carry a file descriptor (SCM_RIGHTS) but no descriptor came with it:
 * the peer is not speaking the fd-passing protocol it should.
 */
public final class FdMissingException extends IOException {

    private static final long serialVersionUID = 1L;

    public FdMissingException(String message) {
        super(message);
    }
}
