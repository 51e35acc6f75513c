package dev.ferry.posix;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/** The loaded native libraries, shared by this package; loading fails loudly rather than falling back to Java emulation. */
final class NativeAccess {

    static final POSIX POSIX = POSIXFactory.getNativePOSIX();
    static final LibC LIBC = LibraryLoader.create(LibC.class).load(Platform.getNativePlatform().getStandardCLibraryName());
    private static final jnr.ffi.Runtime LIBC_RUNTIME = jnr.ffi.Runtime.getRuntime(LIBC);

    private NativeAccess() {
    }

    /** errno of the last {@link LibC} call on this thread. */
    static int libcErrno() {
        return LIBC_RUNTIME.getLastError();
    }

    /** errno of the last {@link #POSIX} call on this thread. */
    static int posixErrno() {
        return POSIX.errno();
    }
}
