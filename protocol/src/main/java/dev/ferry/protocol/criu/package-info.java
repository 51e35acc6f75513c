/**
 * CRIU's image-streamer messages (generated from img-streamer.proto) and their framing,
 * {@link dev.ferry.protocol.criu.StreamerMessages}.
 */
package dev.ferry.protocol.criu;
