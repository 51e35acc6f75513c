#!/usr/bin/env bash
# JMH benchmark of ferry's wire codec (bench/jmh, CodecBenchmark): encoding and decoding 1 MiB IMAGE_DATA
# frames through EmbeddedChannels with the real handlers, and decode + the cache's copy and CRC32C.
# Builds the module with the Maven profile "bench" (never part of the default build), runs it briefly, and
# prints MB/s (10^6 bytes/s of payload) next to JMH's own ops/s table.
# Usage: bench/codec.sh [extra JMH options, e.g. -f 3 -wi 5 -i 10, or a benchmark regex like 'decode$']
# Results: bench/results/codec-<timestamp>.json (JMH's JSON).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/bench/jmh/target/benchmarks.jar
cd "$repo"
# `package`, not `install`: the benchmark builds ferry-protocol in the same reactor and leaves ~/.m2 alone.
mvn -B -q -Pbench -pl bench/jmh -am package -DskipTests >&2
mkdir -p bench/results
out=bench/results/codec-$(date +%Y%m%d-%H%M%S).json
# Brief by default: one fork, 2 warm-up and 3 measured iterations of 1 s each. Later options win.
java -jar "$jar" -f 1 -wi 2 -i 3 -rf json -rff "$out" "$@"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
payload = 1 << 20   # one operation moves one 1 MiB IMAGE_DATA payload
print("\nwire codec, 1 MiB IMAGE_DATA frames (MB = 10^6 bytes of payload)")
print("%-20s %9s %12s %10s %10s" % ("benchmark", "readSize", "MB/s", "+/- MB/s", "us/frame"))
for r in json.load(open(sys.argv[1])):
    m = r["primaryMetric"]
    err = m.get("scoreError")
    err = "-" if err is None or err != err else "%.0f" % (err * payload / 1e6)
    print("%-20s %9s %12.0f %10s %10.2f" % (r["benchmark"].rsplit(".", 1)[1], r.get("params", {}).get("readSize", "-"),
                                           m["score"] * payload / 1e6, err, 1e6 / m["score"]))
print("results: " + sys.argv[1])
PY
