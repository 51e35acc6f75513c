package dev.ferry.posix;

/** Who is on the other end of a unix socket (SO_PEERCRED), as the kernel recorded it at connect time. */
public record PeerCredentials(long pid, int uid, int gid) {
}
