package dev.ferry.proxy;

import java.io.IOException;

/** The connection to the image-cache could not be made, or broke. */
public class CacheLinkException extends IOException {

    public CacheLinkException(String message) {
        super(message);
    }

    public CacheLinkException(String message, Throwable cause) {
        super(message, cause);
    }
}
