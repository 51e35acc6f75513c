#!/usr/bin/env bash
# Aggregate throughput of concurrent migrations through one image-proxy/image-cache pair (issue 11): N
# `ferry migrate` of independent workloads of M MiB each, started at once, against one migration of M MiB and one
# of N×M MiB through the same pair (mutual TLS). Per case, per run: the wall time from the first `ferry migrate`
# started to the last one ended, and the bytes ferry reports as moved; aggregate GB/s = bytes / wall.
# The workload is it-tests' memservice.py (touched random memory, a tick counter), fresh per run, each in its own
# PID namespace on node src. Checks per run: every migrate exits 0, every restored process is in dst and its ticks
# go on from where they were, the source processes are gone.
# Run 0 of every case is a warm-up (the daemons' JVMs compile on their first migrations) and is not counted.
# Prints medians, the ratio of the concurrent aggregate to the single M-MiB figure and to the single N×M figure,
# with a verdict against the goal (concurrent aggregate >= 1.0 × single N×M: no throughput lost to concurrency),
# the load average during the runs, and writes JSON to bench/results/concurrent-<timestamp>.json.
# Root only. Usage: bench/concurrent.sh [--n N] [--mib M] [--runs R]   (defaults: 8, 64, 3)
# Nodes are network namespaces fconc-{sw,src,dst} (10.231.51.0/24, the bridge in fconc-sw), entered with
# nsenter --net=; everything started here is ended by PID, and the namespaces are removed on exit.
# FERRY_CONCURRENT_KEEP=1 keeps the work dir (daemon and CRIU logs) for reading.
set -euo pipefail
n=8; mib=64; runs=3
usage="usage: bench/concurrent.sh [--n N] [--mib M] [--runs R]"
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=${2:?--n needs a number}; shift 2;;
    --mib) mib=${2:?--mib needs a number}; shift 2;;
    --runs) runs=${2:?--runs needs a number}; shift 2;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "concurrent: unknown argument '$1' ($usage)" >&2; exit 2;;
  esac
done
for v in "$n" "$mib" "$runs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "concurrent: '$v' (expected: a number >= 1; $usage)" >&2; exit 2; }
done
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/cli/target/ferry.jar
criu=$repo/.criu/bin/criu
wl=$repo/it-tests/src/test/resources/workloads/memservice.py
[ "$(id -u)" = 0 ] || { echo "concurrent: run as root" >&2; exit 1; }
[ -x "$criu" ] || "$repo/scripts/install-criu"
for tool in python3 nsenter unshare; do
  command -v "$tool" >/dev/null || { echo "concurrent: $tool is missing (run scripts/install-criu)" >&2; exit 1; }
done
[ -f "$jar" ] || (cd "$repo" && mvn -B -q -o package -DskipTests -pl cli -am)
# shellcheck source=scripts/jvm-options
. "$repo/scripts/jvm-options"   # the flags ./ferry starts every command with
java_daemon=(java "${FERRY_JVM_OPTIONS[@]}" -jar "$jar")
java_proxy=(java "${FERRY_JVM_OPTIONS[@]}" "${FERRY_PROXY_JVM_OPTIONS[@]}" -jar "$jar")
java_client=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$jar")          # as the it-tests start clients

P=fconc-; SUB=10.231.51; SRC_IP=$SUB.1; DST_IP=$SUB.2; PORT=27160
NS_SW=${P}sw; NS_SRC=${P}src; NS_DST=${P}dst
nsn() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }
in_src=(nsenter --net=/run/netns/$NS_SRC); in_dst=(nsenter --net=/run/netns/$NS_DST)
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# One run at a time (fixed namespace names). A directory, not flock: a lock fd would be inherited by the workloads.
lock=/run/ferry-concurrent.lock
if ! mkdir "$lock" 2>/dev/null; then
  other=$(cat "$lock/pid" 2>/dev/null || true)
  alive "$other" && { echo "concurrent: another bench/concurrent.sh (pid $other) is running" >&2; exit 1; }
  rm -rf "$lock"; mkdir "$lock"
fi
echo $$ > "$lock/pid"
work=$(mktemp -d /tmp/ferry-concurrent.XXXX)
declare -A started=()   # pid -> start time: everything started here, ended by PID (only if still the same process)
daemons=()
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
track() { local t; [[ $1 =~ ^[0-9]+$ ]] || return 0; t=$(starttime "$1"); [ -n "$t" ] && started[$1]=$t; return 0; }
kill_own() {
  [[ $2 =~ ^[0-9]+$ ]] || return 0
  [ -n "${started[$2]:-}" ] && [ "$(starttime "$2")" = "${started[$2]}" ] && kill "-$1" "$2" 2>/dev/null
  return 0
}
netns_down() { local ns; for ns in $NS_SRC $NS_DST $NS_SW; do ip netns del "$ns" 2>/dev/null || true; done; }
cleanup() {
  local rc=$? p
  set +e
  trap - EXIT INT TERM
  for p in "${!started[@]}"; do [[ " ${daemons[*]} " = *" $p "* ]] || kill_own KILL "$p"; done
  for p in "${daemons[@]}"; do kill_own TERM "$p"; done
  for _ in $(seq 100); do
    local up=0; for p in "${daemons[@]}"; do alive "$p" && up=1; done
    [ $up = 0 ] && break; sleep 0.1
  done
  for p in "${daemons[@]}"; do kill_own KILL "$p"; done
  netns_down
  rm -rf "$lock"
  if [ "${FERRY_CONCURRENT_KEEP:-0}" = 1 ]; then echo "concurrent: kept $work" >&2; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "concurrent: $*" >&2; exit 1; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b - a) * 1000}'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

net_up() {
  netns_down
  ip netns add $NS_SW
  nsn $NS_SW ip link add br0 type bridge
  nsn $NS_SW ip link set br0 up
  local x ns ip
  for x in src:$SRC_IP dst:$DST_IP; do
    ns=${P}${x%%:*}; ip=${x#*:}
    ip netns add "$ns"
    ip link add eth0 netns "$ns" type veth peer name "p-${x%%:*}" netns $NS_SW
    nsn $NS_SW ip link set "p-${x%%:*}" master br0 up
    nsn "$ns" ip link set lo up
    nsn "$ns" ip addr add "$ip/24" dev eth0
    nsn "$ns" ip link set eth0 up
  done
}
wait_ready() {  # wait_ready PID OUTFILE NAME
  for _ in $(seq 600); do
    grep -q '^ready' "$2" 2>/dev/null && return 0
    alive "$1" || die "$3 exited before it was ready; log: $(dirname "$2")"
    sleep 0.05
  done
  die "$3 printed no ready line within 30 s; log: $(dirname "$2")"
}
start_pair() {
  mkdir -p -m 700 "$work/dst" "$work/src"
  { "${java_client[@]}" certs init "$work/pki" && "${java_client[@]}" certs issue target --dir "$work/pki" --san $DST_IP \
      && "${java_client[@]}" certs issue source --dir "$work/pki"; } >"$work/certs.log" 2>&1 || die "ferry certs failed: $work/certs.log"
  local cache_mib=$(( (n * mib + 64 * n) * 2 + 1024 ))   # room for N×M plus the margins, twice over
  "${in_dst[@]}" "${java_daemon[@]}" image-cache --listen $DST_IP --port $PORT --run-dir "$work/dst" --criu "$criu" \
    --max-memory "${cache_mib}M" --tls-allow source --tls-cert "$work/pki/target.pem" \
    --tls-key "$work/pki/target-key.pem" --tls-ca "$work/pki/ca.pem" </dev/null >"$work/dst/cache.out" 2>"$work/dst/cache.log" &
  disown; daemons+=("$!"); track "$!"; wait_ready "$!" "$work/dst/cache.out" image-cache
  "${in_src[@]}" "${java_proxy[@]}" image-proxy --address $DST_IP --port $PORT --run-dir "$work/src" --criu "$criu" \
    --tls-cert "$work/pki/source.pem" --tls-key "$work/pki/source-key.pem" --tls-ca "$work/pki/ca.pem" \
    </dev/null >"$work/src/proxy.out" 2>"$work/src/proxy.log" &
  disown; daemons+=("$!"); track "$!"; wait_ready "$!" "$work/src/proxy.out" image-proxy
}
start_workload() {  # start_workload MIB TICKS → $wl_pid: the PID namespace's init as the host sees it
  local up child=""
  "${in_src[@]}" setsid unshare -pf setsid /usr/bin/python3 "$wl" "$1" "$2" </dev/null >/dev/null 2>&1 &
  up=$!; disown; track "$up"
  for _ in $(seq 500); do
    child=$(awk '{print $1}' "/proc/$up/task/$up/children" 2>/dev/null || true)
    [ -n "$child" ] && [ "$(awk '/^NSpid/ {print $NF}' "/proc/$child/status" 2>/dev/null)" = 1 ] && break
    child=""; sleep 0.02
  done
  [ -n "$child" ] || die "memservice.py ($1 MiB) did not start"
  track "$child"; wl_pid=$child
}
last_n() { awk '$1 == "ok" {n = $2} END {print n + 0}' "$1" 2>/dev/null || echo 0; }
await_ticks() {  # await_ticks LOG N SECONDS
  for _ in $(seq $(($3 * 20))); do [ "$(last_n "$1")" -ge "$2" ] && return 0; sleep 0.05; done
  return 1
}
netns_inode() { stat -L -c %i "/run/netns/$1"; }
in_node() { [ "$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null)" = "$(netns_inode "$2")" ]; }

# run_case NAME COUNT MIB RUN → one line "NAME RUN WALL_MS BYTES" in runs.tsv
run_case() {
  local name=$1 count=$2 size=$3 run=$4 i pids=() logs=() clients=() s e bytes=0 out restored at
  for i in $(seq "$count"); do
    logs+=("$work/$name-$run-$i.ticks"); start_workload "$size" "${logs[-1]}"; pids+=("$wl_pid")
  done
  for i in "${!pids[@]}"; do await_ticks "${logs[$i]}" 10 60 || die "$name run $run: workload $i does not tick"; done
  s=$(now)
  for i in "${!pids[@]}"; do
    "${in_src[@]}" "${java_client[@]}" migrate -t "${pids[$i]}" -D "$name-$run-$i" --run-dir "$work/src" \
      </dev/null >"$work/$name-$run-$i.out" 2>"$work/$name-$run-$i.err" &
    clients+=("$!"); track "$!"
  done
  for i in "${!clients[@]}"; do
    wait "${clients[$i]}" || die "$name run $run: ferry migrate $i failed: $(tail -3 "$work/$name-$run-$i.err")"
  done
  e=$(now)
  for i in "${!pids[@]}"; do
    out=$(cat "$work/$name-$run-$i.out")
    restored=$(sed -n 's/.* as pid \([0-9]*\):.*/\1/p' <<<"$out" | head -1)
    [ -n "$restored" ] || die "$name run $run: no restored pid in: $out"
    track "$restored"
    in_node "$restored" $NS_DST || die "$name run $run: restored pid $restored is not in dst"
    alive "${pids[$i]}" && die "$name run $run: source pid ${pids[$i]} still runs"
    bytes=$(( bytes + $(sed -n 's/.*images, \([0-9]*\) bytes.*/\1/p' <<<"$out" | head -1) ))
    at=$(last_n "${logs[$i]}")
    await_ticks "${logs[$i]}" $((at + 10)) 20 || die "$name run $run: restored workload $i does not tick on"
  done
  for p in "${pids[@]}"; do kill_own KILL "$p"; done
  for p in "${!started[@]}"; do
    [[ " ${daemons[*]} " = *" $p "* ]] || { kill_own KILL "$p"; unset "started[$p]"; }
  done
  printf '%s\t%d\t%d\t%d\t%s\n' "$name" "$run" "$(ms "$s" "$e")" "$bytes" "$(load1)" >>"$work/runs.tsv"
  printf 'concurrent: %-10s run %d: %6d ms, %d MiB\n' "$name" "$run" "$(ms "$s" "$e")" $((bytes >> 20))
}

net_up
start_pair
load_start=$(load1)
for run in $(seq 0 "$runs"); do
  run_case single 1 "$mib" "$run"
  run_case big 1 $((n * mib)) "$run"
  run_case concurrent "$n" "$mib" "$run"
done
load_end=$(load1)
mkdir -p "$repo/bench/results"
ts=$(date -u +%Y%m%d-%H%M%S)
python3 - "$work/runs.tsv" "$repo/bench/results/concurrent-$ts.json" "$n" "$mib" "$runs" "$load_start" "$load_end" \
  "$(nproc)" <<'EOF'
import json, statistics, sys
tsv, out, n, mib, runs, load_start, load_end, cpus = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)]
cases = {}
loads = []
for name, run, wall, nbytes, load in rows:
    loads.append(float(load))
    if int(run) == 0:
        continue  # warm-up
    cases.setdefault(name, []).append((int(wall), int(nbytes)))
summary = {}
for name, values in cases.items():
    wall = statistics.median(w for w, _ in values)
    gbps = statistics.median(b / w / 1e6 for w, b in values)
    summary[name] = {"runs": values, "median_wall_ms": wall, "median_gb_per_s": gbps}
single, big, conc = (summary[k]["median_gb_per_s"] for k in ("single", "big", "concurrent"))
summary["ratio_concurrent_to_single"] = conc / single
summary["ratio_concurrent_to_big"] = conc / big
verdict = "PASS" if conc >= big else "MISS"
print(f"\n{n} concurrent migrations of {mib} MiB vs one of {mib} MiB and one of {int(n) * int(mib)} MiB, medians over"
      f" {runs} runs; load average (1 min) {min(loads):.1f}-{max(loads):.1f} on {cpus} CPUs")
for k, label in (("single", f"1 x {mib} MiB"), ("big", f"1 x {int(n) * int(mib)} MiB"),
                 ("concurrent", f"{n} x {mib} MiB")):
    print(f"  {label:>14}: {summary[k]['median_wall_ms']:7.0f} ms wall, {summary[k]['median_gb_per_s']:.3f} GB/s")
print(f"  aggregate / single {mib} MiB: {summary['ratio_concurrent_to_single']:.2f}")
print(f"  aggregate / single {int(n) * int(mib)} MiB: {summary['ratio_concurrent_to_big']:.2f}  {verdict}"
      " (goal: >= 1.0, no throughput lost to concurrency)")
json.dump({"benchmark": "concurrent", "n": int(n), "mib": int(mib), "runs": int(runs), "warmup_runs": 1,
           "cpus": int(cpus), "load1": {"start": float(load_start), "end": float(load_end), "min": min(loads),
           "max": max(loads)}, "cases": summary, "verdict": verdict}, open(out, "w"), indent=2)
print(f"\nresults: {out}")
EOF
