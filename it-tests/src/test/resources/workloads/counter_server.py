#!/usr/bin/python3
"""counter_server.py HOST PORT

A single-threaded TCP server on HOST:PORT: for each line "N" it replies "N TOTAL", TOTAL counting
every request it ever answered (its state, which must survive a migration). Runs until killed.
"""
import selectors
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(8)
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
