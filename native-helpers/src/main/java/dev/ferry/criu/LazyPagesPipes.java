package dev.ferry.criu;

import dev.ferry.posix.Pipes;

/**
 * What post-copy needs of {@code fs.pipe-max-size} on the source node: CRIU's lazy-pages page server sizes its pipes
 * to ~3.2 MiB with {@code F_SETPIPE_SZ}, which fails below 4 MiB without CAP_SYS_RESOURCE, and the transfer then
 * fails (shared/reference/criu-field-notes.md §5). One check for the image-proxy's preflight and {@code ferry check}.
 */
public final class LazyPagesPipes {

    /** The smallest {@code fs.pipe-max-size} with which CRIU's page server can serve lazy pages. */
    public static final int MIN_PIPE_MAX_SIZE = 4 << 20;

    private LazyPagesPipes() {
    }

    /** Null if this node's {@code fs.pipe-max-size} is enough for a {@code --lazy} source; else the problem. */
    public static String problem() {
        return problem(Pipes.maxPipeSize());
    }

    /**
     * Null if {@code pipeMaxSize} (as {@link Pipes#maxPipeSize()} reads it; -1 if unreadable) is enough; else what
     * was found, what is expected, and the fix.
     */
    static String problem(int pipeMaxSize) {
        if (pipeMaxSize >= MIN_PIPE_MAX_SIZE) {
            return null;
        }
        String found = pipeMaxSize < 0 ? "unreadable (/proc/sys/fs/pipe-max-size)" : Integer.toString(pipeMaxSize);
        return "fs.pipe-max-size is " + found + " on this node (expected: >= " + MIN_PIPE_MAX_SIZE + " for a --lazy"
                + " source: CRIU's page server sizes its pipes to ~3.2 MiB); run `sysctl -w fs.pipe-max-size="
                + MIN_PIPE_MAX_SIZE + "`";
    }
}
