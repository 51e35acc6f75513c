#!/usr/bin/python3
"""tcppair.py PORT LOG INTERVAL_S

One process tree with both ends of a TCP connection on 127.0.0.1: the parent listens on PORT and
serves a counter protocol (for each line "N" it replies "N TOTAL", TOTAL counting every request
it ever answered); the forked child keeps one connection open and sends request N = 1, 2, 3, ...
every INTERVAL_S seconds. The child appends "ok N TOTAL UNIX_TIME" to LOG for each reply, and
"ERROR ..." for a reply that does not match (TOTAL must equal N: no gap, no duplicate) or any
socket error, after which it exits.
"""
import os
import selectors
import socket
import sys
import time

port, log, interval = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)


def client():
    out = open(log, "a", buffering=1)
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=60)
        reader = conn.makefile("r")
        n = 0
        while True:
            n += 1
            conn.sendall(b"%d\n" % n)
            line = reader.readline()
            if not line:
                out.write("ERROR eof after request %d\n" % n)
                return
            parts = line.split()
            if len(parts) != 2 or int(parts[0]) != n or int(parts[1]) != n:
                out.write("ERROR mismatch: sent %d, got %r\n" % (n, line))
                return
            out.write("ok %d %s %.3f\n" % (n, parts[1], time.time()))
            time.sleep(interval)
    except Exception as e:  # reset, timeout, anything: the test reads this line
        out.write("ERROR %s: %s\n" % (type(e).__name__, e))


if os.fork() == 0:
    srv.close()
    client()
    os._exit(0)

total = 0
buffers = {}
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            conn, _ = srv.accept()
            buffers[conn] = b""
            sel.register(conn, selectors.EVENT_READ)
            continue
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
