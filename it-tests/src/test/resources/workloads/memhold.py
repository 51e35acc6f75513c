#!/usr/bin/python3
"""memhold.py SIZE_MIB SHA_FILE LOG INTERVAL_S

Holds SIZE_MIB MiB of touched memory filled with a pseudo-random pattern seeded from the clock,
writes the pattern's sha256 to SHA_FILE (atomically, once), then every INTERVAL_S seconds recomputes
the sha256 over the same memory and appends "<n> <sha>" to LOG. A restored copy that lost or
changed memory logs a different sha; one that does not run logs nothing new.
"""
import hashlib
import os
import random
import sys
import time

size = int(sys.argv[1]) << 20
sha_file, log, interval = sys.argv[2], sys.argv[3], float(sys.argv[4])
chunk = 1 << 20

mem = bytearray(size)
rng = random.Random(time.time_ns())
for offset in range(0, size, chunk):
    mem[offset:offset + chunk] = rng.randbytes(chunk)

first = hashlib.sha256(memoryview(mem)).hexdigest()
with open(sha_file + ".tmp", "w") as f:
    f.write(first + "\n")
os.replace(sha_file + ".tmp", sha_file)

n = 0
while True:
    n += 1
    digest = hashlib.sha256(memoryview(mem)).hexdigest()
    with open(log, "a") as f:
        f.write("%d %s\n" % (n, digest))
    time.sleep(interval)
