#!/usr/bin/python3
"""counter_client.py HOST PORT INTERVAL_S LOG MAX_S

One persistent connection to a counter server (counter_server.py): sends N = 1, 2, 3, ... every
INTERVAL_S seconds and appends "ok N TOTAL UNIX_TIME" to LOG for each reply; "ERROR ..." for a
reply that does not match (TOTAL must equal N: no gap, no duplicate) or any socket error, then
exits. Stops by itself after MAX_S seconds.
"""
import socket
import sys
import time

host, port, interval, log, max_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
out = open(log, "a", buffering=1)
end = time.time() + max_s
try:
    conn = None
    while conn is None:  # the server may still be starting: retry refused connects for up to 15 s
        try:
            conn = socket.create_connection((host, port), timeout=30)
        except ConnectionRefusedError:
            if time.time() > end - max_s + 15:
                raise
            time.sleep(0.05)
    reader = conn.makefile("r")
    n = 0
    while time.time() < end:
        n += 1
        conn.sendall(b"%d\n" % n)
        line = reader.readline()
        if not line:
            out.write("ERROR eof after request %d\n" % n)
            sys.exit(1)
        parts = line.split()
        if len(parts) != 2 or int(parts[0]) != n or int(parts[1]) != n:
            out.write("ERROR mismatch: sent %d, got %r\n" % (n, line))
            sys.exit(1)
        out.write("ok %d %s %.3f\n" % (n, parts[1], time.time()))
        time.sleep(interval)
except Exception as e:  # reset, timeout, anything: the test reads this line
    out.write("ERROR %s: %s\n" % (type(e).__name__, e))
    sys.exit(1)
