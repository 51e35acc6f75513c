/**
 * The CRIU binary as both engines use it: locating and version-checking it, its options, starting it, its
 * streamer connection framing, its work directories, and turning its log into a readable failure.
 */
package dev.ferry.criu;
