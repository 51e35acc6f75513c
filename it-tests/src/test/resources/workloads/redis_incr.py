#!/usr/bin/python3
"""redis_incr.py HOST PORT INTERVAL_S LOG MAX_S

One persistent RESP connection to redis: sends INCR ferry:ctr every INTERVAL_S seconds and appends
"ok N VALUE UNIX_TIME" to LOG for each reply (VALUE must equal N: the key starts absent, so no gap,
no duplicate); "ERROR ..." for anything else, then exits. Stops by itself after MAX_S seconds.
"""
import socket
import sys
import time

host, port, interval, log, max_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
out = open(log, "a", buffering=1)
end = time.time() + max_s
cmd = b"*2\r\n$4\r\nINCR\r\n$9\r\nferry:ctr\r\n"
try:
    conn = None
    while conn is None:  # the server may still be starting: retry refused connects for up to 15 s
        try:
            conn = socket.create_connection((host, port), timeout=30)
        except ConnectionRefusedError:
            if time.time() > end - max_s + 15:
                raise
            time.sleep(0.05)
    reader = conn.makefile("rb")
    n = 0
    while time.time() < end:
        n += 1
        conn.sendall(cmd)
        line = reader.readline()
        if not line:
            out.write("ERROR eof after INCR %d\n" % n)
            sys.exit(1)
        if not line.startswith(b":") or int(line[1:]) != n:
            out.write("ERROR mismatch: INCR %d got %r\n" % (n, line))
            sys.exit(1)
        out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        time.sleep(interval)
except Exception as e:
    out.write("ERROR %s: %s\n" % (type(e).__name__, e))
    sys.exit(1)
