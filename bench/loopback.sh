#!/usr/bin/env bash
# A first, small benchmark: stop-and-copy of a process holding SIZE MiB of touched memory, over loopback
# on this one machine, side by side in one run:
#   ferry: `ferry dump --remote` through image-proxy → image-cache, then `ferry restore --remote`
#   criu:  plain `criu dump` to tmpfs (/dev/shm), then `criu restore` from it (no network at all)
# Prints medians over RUNS runs and the ratios ferry/criu. Root only. Usage: bench/loopback.sh [SIZE_MIB] [RUNS]
# Each process is started fresh in its own PID namespace; everything started here is ended by PID.
set -euo pipefail
size=${1:-1024}
runs=${2:-3}
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/cli/target/ferry.jar
criu=$repo/.criu/bin/criu
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$criu" ] || "$repo/scripts/install-criu"
[ -f "$jar" ] || (cd "$repo" && mvn -B -q -DskipTests -pl cli -am install)
work=$(mktemp -d /tmp/ferry-bench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work" /dev/shm/ferry-bench-img
}
trap cleanup EXIT

cat > "$work/hold.py" <<'PY'
import sys, time, mmap
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n)
for i in range(0, n, 4096):
    m[i] = (i >> 12) & 0xff
open(sys.argv[2], "w").write("ready\n")
while True:
    time.sleep(1)
PY

start_workload() {  # prints the host pid of the namespace's init
  rm -f "$work/ready"
  setsid unshare -pf setsid /usr/bin/python3 "$work/hold.py" "$size" "$work/ready" </dev/null >/dev/null 2>&1 &
  local up=$! child=""
  pids+=("$up")
  for _ in $(seq 600); do
    child=$(cat "/proc/$up/task/$up/children" 2>/dev/null | awk '{print $1}')
    [ -n "$child" ] && [ -f "$work/ready" ] && break
    sleep 0.05
  done
  pids+=("$child")
  echo "$child"
}
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

java -jar "$jar" image-cache --port 27090 --run-dir "$work/dst" --criu "$criu" >"$work/cache.out" 2>"$work/cache.log" &
pids+=("$!")
java -jar "$jar" image-proxy --address 127.0.0.1 --port 27090 --run-dir "$work/src" --criu "$criu" >"$work/proxy.out" 2>"$work/proxy.log" &
pids+=("$!")
for _ in $(seq 200); do grep -q ready "$work/cache.out" 2>/dev/null && grep -q ready "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done

: > "$work/ferry.tsv"; : > "$work/criu.tsv"
for r in $(seq 0 "$runs"); do   # run 0 warms up memory and JITs and is not counted
  pid=$(start_workload)
  java -jar "$jar" dump -t "$pid" -D "b$r" --remote --run-dir "$work/src" >"$work/dump.out" 2>&1
  d=$(grep -o '([0-9]* ms)' "$work/dump.out" | tr -dc 0-9)
  while [ -e "/proc/$pid" ]; do sleep 0.02; done
  java -jar "$jar" restore -D "b$r" --remote --run-dir "$work/dst" --pidfile "$work/r.pid" >"$work/restore.out" 2>&1
  s=$(grep -o '([0-9]* ms)' "$work/restore.out" | tr -dc 0-9)
  pids+=("$(cat "$work/r.pid")"); kill -9 "$(cat "$work/r.pid")"
  [ "$r" -gt 0 ] && printf '%s\t%s\n' "$d" "$s" >> "$work/ferry.tsv"

  pid=$(start_workload)
  rm -rf /dev/shm/ferry-bench-img; mkdir /dev/shm/ferry-bench-img
  t0=$(now); "$criu" dump -t "$pid" -D /dev/shm/ferry-bench-img -o dump.log; t1=$(now)
  while [ -e "/proc/$pid" ]; do sleep 0.02; done
  t2=$(now); "$criu" restore -d -D /dev/shm/ferry-bench-img -o restore.log --pidfile /dev/shm/ferry-bench-img/r.pid; t3=$(now)
  pids+=("$(cat /dev/shm/ferry-bench-img/r.pid)"); kill -9 "$(cat /dev/shm/ferry-bench-img/r.pid)"
  [ "$r" -gt 0 ] && awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {printf "%d\t%d\n", (b-a)*1000, (d-c)*1000}' >> "$work/criu.tsv"
done

fd=$(cut -f1 "$work/ferry.tsv" | median); fr=$(cut -f2 "$work/ferry.tsv" | median)
cd_=$(cut -f1 "$work/criu.tsv" | median); cr=$(cut -f2 "$work/criu.tsv" | median)
echo "size ${size} MiB, ${runs} runs (after one warm-up), medians in ms"
printf '%-34s %8s %8s %8s\n' path dump restore total
printf '%-34s %8s %8s %8s\n' "ferry over loopback (in memory)" "$fd" "$fr" "$((fd + fr))"
printf '%-34s %8s %8s %8s\n' "criu to/from tmpfs (no network)" "$cd_" "$cr" "$((cd_ + cr))"
awk -v a="$fd" -v b="$cd_" -v c="$fr" -v d="$cr" 'BEGIN {printf "ratio ferry/criu: dump %.2f, restore %.2f, total %.2f\n", a/b, c/d, (a+c)/(b+d)}'
echo "ferry rate: $(awk -v s="$size" -v t="$fd" 'BEGIN {printf "%.2f", s*1.048576/t}') GB/s dump"
