#!/usr/bin/env python3
"""The fastest image streamer there can be: takes a `criu dump --stream` and throws the bytes away.

Usage: null_streamer.py DIR READY_FILE

Listens on DIR/streamer-capture.sock (the streamer protocol of shared/reference/criu-stream-protocol.md:
a u32 length in host order, an img_streamer_request_entry, then the read end of a pipe with SCM_RIGHTS on a
one-byte payload), gives every pipe a thread that splices it into /dev/null (no copy to user space), and keeps
only stats-dump (a few hundred bytes) in DIR, so the benchmark can read CRIU's own timings. Creates READY_FILE
once it listens. Exits when CRIU closes the socket and every pipe is drained, printing the bytes taken.

bench/migrate.sh's `nullstream` path runs it to measure what CRIU alone costs on the way out: a dump into it is
the floor under any streamer's dump (ferry's included) on this machine.
"""
import fcntl
import os
import socket
import struct
import sys
import threading

F_SETPIPE_SZ = 1031
PIPE_SIZE = 4 << 20  # what ferry's image-proxy asks for (root may exceed fs.pipe-max-size)
CHUNK = 4 << 20
KEEP = ("stats-dump",)


def recv_exactly(conn, n):
    buf = bytearray()
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            if buf:
                raise EOFError(f"CRIU closed the socket {len(buf)} bytes into a {n}-byte read")
            return None
        buf += part
    return bytes(buf)


def filename(entry):
    """img_streamer_request_entry{required string filename = 1}: tag 0x0a, a varint length, the name."""
    if not entry or entry[0] != 0x0A:
        raise ValueError(f"unexpected request entry {entry[:8].hex()} (expected field 1, a string)")
    length, shift, i = 0, 0, 1
    while True:
        b = entry[i]
        length |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            break
        shift += 7
    return entry[i:i + length].decode()


def drain(fd, name, directory, sink, totals, lock):
    taken = 0
    try:
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # the pipe stays at CRIU's size
        if name in KEEP:
            with open(os.path.join(directory, name), "wb") as out:
                while True:
                    data = os.read(fd, CHUNK)
                    if not data:
                        break
                    out.write(data)
                    taken += len(data)
        else:
            while True:
                n = os.splice(fd, sink, CHUNK)
                if n == 0:
                    break
                taken += n
    finally:
        os.close(fd)
        with lock:
            totals[0] += taken
            totals[1] += 1


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: null_streamer.py DIR READY_FILE")
    directory, ready = sys.argv[1], sys.argv[2]
    path = os.path.join(directory, "streamer-capture.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    open(ready, "w").close()
    server.settimeout(120)  # bounded: a benchmark that never starts its dump must not leave this behind
    conn, _ = server.accept()
    conn.settimeout(None)
    server.close()
    sink = os.open("/dev/null", os.O_WRONLY)
    totals, lock, threads = [0, 0], threading.Lock(), []
    while True:
        header = recv_exactly(conn, 4)
        if header is None:
            break  # CRIU is done
        (size,) = struct.unpack("=I", header)
        name = filename(recv_exactly(conn, size))
        _, fds, _, _ = socket.recv_fds(conn, 1, 1)
        if len(fds) != 1:
            raise ValueError(f"{name}: expected one pipe fd with SCM_RIGHTS, got {len(fds)}")
        t = threading.Thread(target=drain, args=(fds[0], name, directory, sink, totals, lock), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    conn.close()
    os.unlink(path)
    print(f"{totals[0]} bytes in {totals[1]} images")


if __name__ == "__main__":
    main()
