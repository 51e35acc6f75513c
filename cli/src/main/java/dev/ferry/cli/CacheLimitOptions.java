package dev.ferry.cli;

import dev.ferry.cache.CacheLimits;

/** The image-cache's limits on what peers may send ({@link CacheLimits}). */
final class CacheLimitOptions {

    CacheLimits limits() {
        return CacheLimits.defaults();
    }
}
