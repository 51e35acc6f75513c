package dev.ferry.posix;

import java.io.IOException;

/**
 * A Linux call failed: carries the call's name and its errno, e.g.
 * {@code recvmsg on fd 12: Connection reset by peer (errno 104)}.
 */
public final class PosixException extends IOException {

    private static final long serialVersionUID = 1L;

    /** errno values ferry reacts to. */
    public static final int EINTR = 4;
    public static final int ESRCH = 3;
    public static final int EAGAIN = 11;
    public static final int EPIPE = 32;

    private final String call;
    private final int errno;

    /**
     * @param call the C function that failed, e.g. {@code recvmsg}
     * @param context what it was called on, e.g. {@code fd 12} or a path; may be null
     */
    public PosixException(String call, int errno, String context) {
        super(call + (context == null ? "" : " " + context) + ": " + describe(errno) + " (errno " + errno + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The C function that failed. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    private static String describe(int errno) {
        try {
            String text = NativeAccess.POSIX.strerror(errno);
            return text == null || text.isEmpty() ? "error" : text;
        } catch (RuntimeException | LinkageError e) {
            return "error";
        }
    }
}
