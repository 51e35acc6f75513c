/**
 * The restore engine: runs {@code criu restore --stream} and serves every image it asks for from an
 * {@link dev.ferry.protocol.image.ImageSource}, several pipes at once.
 */
package dev.ferry.restore;
