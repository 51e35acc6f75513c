package dev.ferry.proxy;

import dev.ferry.criu.LazyPagesPipes;
import dev.ferry.dump.LazyDumpEngine;

/**
 * What post-copy needs on the source before anything is frozen, one check for {@code ferry migrate --lazy} and
 * {@code ferry dump --remote --lazy}: {@code fs.pipe-max-size} large enough for CRIU's page server
 * ({@link LazyPagesPipes}) and a tmpfs for CRIU's non-page images ({@link DumpService#LAZY_DIR}).
 */
final class LazyPreflight {

    private LazyPreflight() {
    }

    /** Null if this node can be the source of a post-copy dump; else what is wrong and the fix. */
    static String problem() {
        String pipe = LazyPagesPipes.problem();
        return pipe != null ? pipe : LazyDumpEngine.tmpfsProblem(DumpService.LAZY_DIR);
    }
}
