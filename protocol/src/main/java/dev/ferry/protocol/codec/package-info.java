/**
 * ferry's wire codecs: bytes to {@link dev.ferry.protocol.codec.Frame}s to
 * {@link dev.ferry.protocol.codec.WireMessage}s and back; no handlers, no threads.
 */
package dev.ferry.protocol.codec;
