package dev.ferry.posix;

/** Making native memory resident before it is needed. */
public final class Memory {

    private static final long PAGE = 4096;

    private Memory() {
    }

    /**
     * Best effort: makes the pages of {@code [address, address + length)} resident and writable in one call
     * ({@code madvise(MADV_POPULATE_WRITE)}, Linux 5.14+), instead of one page fault per page on first write. The
     * partial pages at either end are left alone. Returns false if the kernel refused (the memory is then faulted in
     * on first use, as usual); never changes the memory's contents.
     */
    public static boolean populateWrite(long address, long length) {
        long start = (address + PAGE - 1) & -PAGE;
        long end = (address + length) & -PAGE;
        if (end <= start) {
            return true;
        }
        return NativeAccess.LIBC.madvise(start, end - start, LibC.MADV_POPULATE_WRITE) == 0;
    }
}
