package dev.ferry.proxy;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.image.ImageName;

import java.time.Duration;

/**
 * What the image-proxy's dump path reports, for metrics and tests; default methods do nothing. Called from
 * control-connection and drain threads, several at once: implementations must be thread-safe and fast.
 */
public interface ProxyEvents {

    ProxyEvents NONE = new ProxyEvents() { };

    /** An event to send when a try-with-resources block ends, e.g. {@code events::linkClosed}. */
    @FunctionalInterface
    interface Closing extends AutoCloseable {
        @Override
        void close();
    }

    /** A connection to the image-cache was opened for a snapshot. */
    default void linkOpened() { }

    /** That connection was closed. */
    default void linkClosed() { }

    /** Image bytes captured from CRIU and handed to the link. */
    default void bytesSent(long bytes) { }

    /** An image was captured and sent completely. */
    default void imageSent(ImageName name) { }

    /** Post-copy page bytes tunnelled to the target since the last call. */
    default void lazyBytesSent(long bytes) { }

    /** The snapshot never began: the cache refused it or could not be reached. {@code code} is null if unreachable. */
    default void snapshotRefused(ErrorCode code) { }

    /** The cache acknowledged the snapshot and CRIU exited 0. */
    default void snapshotCommitted(Duration dump) { }

    /** The snapshot was begun but not committed; the source resumed (or was gone). */
    default void snapshotAborted(Duration dump) { }

    /** The cache answered an ERROR with this code. */
    default void error(ErrorCode code) { }

    /** An attempt to reconnect to the cache after the link dropped mid-transfer (--retry-for). */
    default void reconnect() { }

    /** CRIU's own count of how long the source stayed frozen (stats-dump frozen_time). */
    default void frozen(Duration frozen) { }
}
