/**
 * The few Linux calls the JDK lacks (fd passing over unix sockets, pipes, FIFOs, signals); the only
 * package that sees raw int file descriptors, and where every errno becomes a {@link dev.ferry.posix.PosixException}.
 */
package dev.ferry.posix;
