#!/usr/bin/python3
"""memservice.py SIZE_MIB TICKS_LOG [HOST PORT]

Holds SIZE_MIB MiB of touched memory and appends "ok N N UNIX_TIME" to TICKS_LOG every 20 ms, N counting from 1
(a restored copy continues N; a restarted one begins at 1 again). With HOST and PORT it is also a counter server
(counter_server.py's protocol: for each line "N" it replies "N TOTAL", TOTAL counting every request it answered).
Single-threaded; runs until killed.
"""
import os
import selectors
import socket
import sys
import time

size_mib, ticks = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
mem = bytearray(os.urandom(1 << 20)) * size_mib  # every page written: CRIU dumps all of them
sel = selectors.DefaultSelector()
if len(sys.argv) > 4:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((sys.argv[3], int(sys.argv[4])))
    srv.listen(8)
    sel.register(srv, selectors.EVENT_READ)
total, n, buffers = 0, 0, {}
next_tick = time.time()
while True:
    for key, _ in sel.select(max(0.0, next_tick - time.time())):
        if key.data == "conn":
            conn = key.fileobj
            data = conn.recv(65536)
            if not data:
                sel.unregister(conn)
                conn.close()
                del buffers[conn]
                continue
            buffers[conn] += data
            while b"\n" in buffers[conn]:
                line, buffers[conn] = buffers[conn].split(b"\n", 1)
                total += 1
                conn.sendall(b"%s %d\n" % (line.strip(), total))
        else:
            conn, _ = key.fileobj.accept()
            buffers[conn] = b""
            sel.register(conn, selectors.EVENT_READ, "conn")
    now = time.time()
    if now >= next_tick:
        n += 1
        ticks.write("ok %d %d %.3f\n" % (n, n, now))
        next_tick = max(next_tick + 0.02, now)
