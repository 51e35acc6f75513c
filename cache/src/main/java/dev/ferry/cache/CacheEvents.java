package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;

/**
 * What the cache's receive and restore paths report, for metrics and tests; default methods do nothing.
 * Called from event-loop and restore threads: implementations must be thread-safe and fast.
 */
public interface CacheEvents {

    CacheEvents NONE = new CacheEvents() { };

    default void snapshotBegun(StoredSnapshot snapshot, long expectedBytes) { }

    default void bytesReceived(long bytes) { }

    default void snapshotCommitted(StoredSnapshot snapshot) { }

    default void snapshotDropped(StoredSnapshot snapshot, String why) { }

    default void error(ErrorCode code) { }
}
