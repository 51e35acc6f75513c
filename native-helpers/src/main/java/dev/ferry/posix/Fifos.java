package dev.ferry.posix;

import java.nio.file.Path;

/** Named pipes (FIFOs). */
public final class Fifos {

    private Fifos() {
    }

    /**
     * Creates a FIFO at {@code path} with exactly {@code mode} (e.g. {@code 0600}), whatever the process umask.
     * Fails with EEXIST if anything exists at the path.
     */
    public static void mkfifo(Path path, int mode) throws PosixException {
        String p = path.toString();
        if (NativeAccess.POSIX.mkfifo(p, mode) < 0) {
            throw new PosixException("mkfifo", NativeAccess.posixErrno(), p);
        }
        if (NativeAccess.POSIX.chmod(p, mode) < 0) { // mkfifo applies the umask
            throw new PosixException("chmod", NativeAccess.posixErrno(), p);
        }
    }
}
