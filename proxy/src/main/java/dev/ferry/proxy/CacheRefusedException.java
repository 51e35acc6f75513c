package dev.ferry.proxy;

import dev.ferry.protocol.ErrorCode;

/** The image-cache answered with an ERROR frame: it refused the snapshot or something in it. */
public final class CacheRefusedException extends CacheLinkException {

    private final ErrorCode code;

    public CacheRefusedException(ErrorCode code, String message) {
        super("image-cache refused: " + code + ": " + message);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }
}
