/**
 * The dump engine: runs {@code criu dump --stream}, captures every image pipe into an
 * {@link dev.ferry.protocol.image.ImageSink}, and holds CRIU's post-dump action until the sink has committed.
 */
package dev.ferry.dump;
