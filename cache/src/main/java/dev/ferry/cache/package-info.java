/** The image-cache daemon: receives snapshots over the wire, holds them in memory it owns, restores them. */
package dev.ferry.cache;
