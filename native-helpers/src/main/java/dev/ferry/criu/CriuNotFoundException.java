package dev.ferry.criu;

import java.io.IOException;

/** No usable CRIU (>= {@value Criu#MIN_VERSION}) was found; the message lists what was found where and how to fix it. */
public final class CriuNotFoundException extends IOException {

    private static final long serialVersionUID = 1L;

    public CriuNotFoundException(String message) {
        super(message);
    }
}
