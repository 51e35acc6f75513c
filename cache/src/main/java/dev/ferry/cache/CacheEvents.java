package dev.ferry.cache;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageName;

import java.time.Duration;

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

    /** SNAPSHOT_BEGIN was refused (name taken, no room, a limit): the snapshot never began. */
    default void snapshotRefused(ErrorCode code) { }

    /** An image arrived completely and matched its IMAGE_END (size, CRC32C). */
    default void imageReceived(ImageName name) { }

    /** A connection from an image-proxy opened (before its hello). */
    default void connectionOpened() { }

    /** That connection closed. */
    default void connectionClosed() { }

    /** An image was written completely into a restoring CRIU's pipe. */
    default void imageServed(ImageName name, long bytes) { }

    /** A restore ended: CRIU exited 0 with the tree restored ({@code ok}), or it failed. */
    default void restoreFinished(boolean ok, Duration duration) { }

    /** Post-copy page bytes handed to the target's {@code criu lazy-pages}. */
    default void lazyBytesReceived(long bytes) { }

    /** Page faults a post-copy restore's {@code criu lazy-pages} served on demand (once it exited). */
    default void lazyFaults(long faults) { }

    /** Both {@code first} and {@code second}, in that order. */
    static CacheEvents both(CacheEvents first, CacheEvents second) {
        if (first == NONE) {
            return second;
        }
        if (second == NONE) {
            return first;
        }
        return new CacheEvents() {
            @Override
            public void snapshotBegun(StoredSnapshot snapshot, long expectedBytes) {
                first.snapshotBegun(snapshot, expectedBytes);
                second.snapshotBegun(snapshot, expectedBytes);
            }

            @Override
            public void lazyBytesReceived(long bytes) {
                first.lazyBytesReceived(bytes);
                second.lazyBytesReceived(bytes);
            }

            @Override
            public void lazyFaults(long faults) {
                first.lazyFaults(faults);
                second.lazyFaults(faults);
            }

            @Override
            public void bytesReceived(long bytes) {
                first.bytesReceived(bytes);
                second.bytesReceived(bytes);
            }

            @Override
            public void snapshotCommitted(StoredSnapshot snapshot) {
                first.snapshotCommitted(snapshot);
                second.snapshotCommitted(snapshot);
            }

            @Override
            public void snapshotDropped(StoredSnapshot snapshot, String why) {
                first.snapshotDropped(snapshot, why);
                second.snapshotDropped(snapshot, why);
            }

            @Override
            public void error(ErrorCode code) {
                first.error(code);
                second.error(code);
            }

            @Override
            public void snapshotRefused(ErrorCode code) {
                first.snapshotRefused(code);
                second.snapshotRefused(code);
            }

            @Override
            public void imageReceived(ImageName name) {
                first.imageReceived(name);
                second.imageReceived(name);
            }

            @Override
            public void connectionOpened() {
                first.connectionOpened();
                second.connectionOpened();
            }

            @Override
            public void connectionClosed() {
                first.connectionClosed();
                second.connectionClosed();
            }

            @Override
            public void imageServed(ImageName name, long bytes) {
                first.imageServed(name, bytes);
                second.imageServed(name, bytes);
            }

            @Override
            public void restoreFinished(boolean ok, Duration duration) {
                first.restoreFinished(ok, duration);
                second.restoreFinished(ok, duration);
            }
        };
    }
}
