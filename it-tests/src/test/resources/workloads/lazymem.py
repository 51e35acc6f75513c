#!/usr/bin/python3
"""lazymem.py SIZE_MIB SHA_FILE SUMS_LOG HOST PORT

For post-copy: holds SIZE_MIB MiB of touched pseudo-random memory (seeded from the clock), writes its sha256 to
SHA_FILE once (atomically), then forever recomputes the sha256 over the same memory, 16 MiB per step, and appends
"<n> <sha>" to SUMS_LOG after each full pass; between steps it answers counter_server.py's protocol on HOST PORT
(for each line "N" it replies "N TOTAL"; a connection that fails is closed, the others served on). A restored copy whose pages did not all arrive, or arrived wrong, logs a
different sha; one that does not run logs nothing new. Single-threaded, so each step keeps a reply at most ~50 ms
late; runs until killed.
"""
import hashlib
import os
import random
import selectors
import socket
import sys
import time

size = int(sys.argv[1]) << 20
sha_file, sums = sys.argv[2], sys.argv[3]
chunk = 1 << 20
mem = bytearray(size)
rng = random.Random(time.time_ns())
for offset in range(0, size, chunk):
    mem[offset:offset + chunk] = rng.randbytes(chunk)
view = memoryview(mem)
first = hashlib.sha256(view).hexdigest()
with open(sha_file + ".tmp", "w") as f:
    f.write(first + "\n")
os.replace(sha_file + ".tmp", sha_file)

sel = selectors.DefaultSelector()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[4], int(sys.argv[5])))
srv.listen(8)
sel.register(srv, selectors.EVENT_READ)
total, n, buffers = 0, 0, {}
step = 16 << 20
pos, h = 0, hashlib.sha256()
while True:
    for key, _ in sel.select(0.005):
        if key.data == "conn":
            conn = key.fileobj
            try:
                data = conn.recv(65536)
                buffers[conn] += data
                while b"\n" in buffers[conn]:
                    line, buffers[conn] = buffers[conn].split(b"\n", 1)
                    total += 1
                    conn.sendall(b"%s %d\n" % (line.strip(), total))
            except OSError:  # e.g. EPERM: a connection CRIU left in repair mode when it resumed this process
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                del buffers[conn]
        else:
            conn, _ = key.fileobj.accept()
            buffers[conn] = b""
            sel.register(conn, selectors.EVENT_READ, "conn")
    h.update(view[pos:pos + step])
    pos += step
    if pos >= size:
        n += 1
        with open(sums, "a") as f:
            f.write("%d %s\n" % (n, h.hexdigest()))
        pos, h = 0, hashlib.sha256()
