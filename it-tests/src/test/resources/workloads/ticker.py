#!/usr/bin/python3
"""ticker.py LOG: appends "ok N N UNIX_TIME" to LOG every 20 ms, N counting from 1. Runs until killed."""
import sys
import time

out = open(sys.argv[1], "a", buffering=1)
n = 0
while True:
    n += 1
    out.write("ok %d %d %.3f\n" % (n, n, time.time()))
    time.sleep(0.02)
