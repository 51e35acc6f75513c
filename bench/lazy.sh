#!/usr/bin/env bash
# Post-copy (issue 10): downtime and time to the last page of a 1 GiB process, side by side in one run:
#   ferry --lazy:     `ferry migrate --lazy` through image-proxy (src) → image-cache (dst) with mutual TLS; pages follow
#                     through the link's page-server channel. downtime = ferry's `freeze_ms` (CRIU's "Seized task" on
#                     the source → SNAPSHOT_RESTORED: the tree runs on dst); last page = freeze + `lazy_ms`
#   ferry stop-copy:  `ferry migrate` (no --lazy) through the same pair: downtime = `freeze_ms` (= last page)
#   hand-run CRIU:    the field notes' §5 sequence over loopback, images on tmpfs, all in node src: criu dump
#                     --lazy-pages --address 127.0.0.1 --port P; cp of the images; criu lazy-pages --page-server; criu
#                     restore -d --lazy-pages. downtime = dump's "Seized task" → restore returned (task running);
#                     last page = "Seized task" → lazy-pages exited
# Workload, fresh per run and case in its own PID namespace on src: it-tests' memhold.py holding SIZE MiB of
# pseudo-random memory; after every migration the restored copy must log a sha256 equal to the one it had before.
# Run 0 is a warm-up and is not counted. Prints medians, the ratio ferry/hand-run of the downtime against the goal
# <= 1.2 and ferry's downtime against the goal <= 300 ms (PASS/MISS), and writes bench/results/lazy-<ts>.json.
# Sets fs.pipe-max-size=4194304 for the run and puts the previous value back. Root only.
# With --baseline-jar JAR a second image-cache/image-proxy pair runs that jar (another port, its own run dirs) and a
# fourth case, "baseline --lazy", migrates through it in the same runs: an A/B of ferry's own change, side by side.
# Usage: bench/lazy.sh [--runs N] [--size MIB] [--baseline-jar JAR]   (defaults 5, 1024). Nodes are namespaces flazy-{sw,src,dst}
# (10.231.61.0/24); everything started here is ended by PID; FERRY_LAZY_KEEP=1 keeps the work dir.
set -euo pipefail
runs=5; size=1024; base_jar=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift 2;;
    --size) size=${2:?}; shift 2;;
    --baseline-jar) base_jar=${2:?}; shift 2;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "lazy: unknown argument '$1' (usage: bench/lazy.sh [--runs N] [--size MIB] [--baseline-jar JAR])" >&2; exit 2;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $size =~ ^[1-9][0-9]*$ ]] || { echo "lazy: --runs/--size need numbers >= 1" >&2; exit 2; }
[ -z "$base_jar" ] || [ -f "$base_jar" ] || { echo "lazy: --baseline-jar $base_jar: no such file" >&2; exit 2; }
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/cli/target/ferry.jar
criu=${FERRY_CRIU:-$repo/.criu/bin/criu}
wl=$repo/it-tests/src/test/resources/workloads/memhold.py
[ "$(id -u)" = 0 ] || { echo "lazy: run as root" >&2; exit 1; }
[ -x "$criu" ] || "$repo/scripts/install-criu"
[ -f "$jar" ] || (cd "$repo" && mvn -B -q -o package -DskipTests -pl cli -am)
# shellcheck source=scripts/jvm-options
. "$repo/scripts/jvm-options"   # the flags ./ferry starts every command with
java_client=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$jar")
P=flazy-; SUB=10.231.61; SRC_IP=$SUB.1; DST_IP=$SUB.2; PORT=27161; PS_PORT=27162
NS_SW=${P}sw; NS_SRC=${P}src; NS_DST=${P}dst
nsn() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }
in_src=(nsenter --net=/run/netns/$NS_SRC); in_dst=(nsenter --net=/run/netns/$NS_DST)
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
lock=/run/ferry-lazy-bench.lock
if ! mkdir "$lock" 2>/dev/null; then
  other=$(cat "$lock/pid" 2>/dev/null || true)
  alive "$other" && { echo "lazy: another bench/lazy.sh (pid $other) is running" >&2; exit 1; }
  rm -rf "$lock"; mkdir "$lock"
fi
echo $$ > "$lock/pid"
work=$(mktemp -d /tmp/ferry-lazy.XXXX)
shm=$(mktemp -d /dev/shm/ferry-lazy.XXXX)
pipe_max_before=$(cat /proc/sys/fs/pipe-max-size)
declare -A started=(); daemons=()
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
track() { local t; [[ $1 =~ ^[0-9]+$ ]] || return 0; t=$(starttime "$1"); [ -n "$t" ] && started[$1]=$t; return 0; }
kill_own() { [[ $2 =~ ^[0-9]+$ ]] || return 0
  [ -n "${started[$2]:-}" ] && [ "$(starttime "$2")" = "${started[$2]}" ] && kill "-$1" "$2" 2>/dev/null; return 0; }
netns_down() { local ns; for ns in $NS_SRC $NS_DST $NS_SW; do ip netns del "$ns" 2>/dev/null || true; done; }
cleanup() {
  local rc=$? p
  set +e; trap - EXIT INT TERM
  for p in "${!started[@]}"; do [[ " ${daemons[*]} " = *" $p "* ]] || kill_own KILL "$p"; done
  for p in "${daemons[@]}"; do kill_own TERM "$p"; done
  for _ in $(seq 100); do local up=0; for p in "${daemons[@]}"; do alive "$p" && up=1; done; [ $up = 0 ] && break; sleep 0.1; done
  for p in "${daemons[@]}"; do kill_own KILL "$p"; done
  netns_down
  sysctl -qw fs.pipe-max-size="$pipe_max_before"
  rm -rf "$shm" "$lock"
  if [ "${FERRY_LAZY_KEEP:-0}" = 1 ]; then echo "lazy: kept $work" >&2; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "lazy: $*" >&2; exit 1; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b - a) * 1000}'; }
listening() {  # listening PID PORT: a socket of PID's network namespace listens on 127.0.0.1:PORT (no fork: bash reads)
  local hex sl la ra st rest; printf -v hex '0100007F:%04X' "$2"
  while read -r sl la ra st rest; do [ "$la" = "$hex" ] && [ "$st" = 0A ] && return 0; done < "/proc/$1/net/tcp" 2>/dev/null
  return 1
}
seized_s() {  # seconds from CRIU's start to "Seized task" in its log (the freeze)
  awk -F'[()]' '/Seized task/ {print $2 + 0; exit}' "$1"
}
sysctl -qw fs.pipe-max-size=4194304

ip netns add $NS_SW; nsn $NS_SW ip link add br0 type bridge; nsn $NS_SW ip link set br0 up
for n in src:$SRC_IP dst:$DST_IP; do
  ns=${P}${n%%:*}; ip=${n#*:}
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "p-${n%%:*}" netns $NS_SW
  nsn $NS_SW ip link set "p-${n%%:*}" master br0 up
  nsn "$ns" ip link set lo up; nsn "$ns" ip addr add "$ip/24" dev eth0; nsn "$ns" ip link set eth0 up
done

{ "${java_client[@]}" certs init "$work/pki" && "${java_client[@]}" certs issue target --dir "$work/pki" --san $DST_IP \
    && "${java_client[@]}" certs issue source --dir "$work/pki"; } >"$work/certs.log" 2>&1 || die "ferry certs failed"
wait_ready() { for _ in $(seq 600); do grep -q '^ready' "$2" 2>/dev/null && return 0; alive "$1" || die "$3 exited; $2"; sleep 0.05; done; die "$3 not ready"; }
start_pair() {  # start_pair JAR PORT SUFFIX: an image-cache on dst and an image-proxy on src, run dirs dst$SUFFIX, src$SUFFIX
  local j=$1 port=$2 sfx=$3
  mkdir -p -m 700 "$work/dst$sfx" "$work/src$sfx"
  "${in_dst[@]}" java "${FERRY_JVM_OPTIONS[@]}" -jar "$j" image-cache --listen $DST_IP --port "$port" --run-dir "$work/dst$sfx" \
    --criu "$criu" --tls-allow source --tls-cert "$work/pki/target.pem" --tls-key "$work/pki/target-key.pem" \
    --tls-ca "$work/pki/ca.pem" </dev/null >"$work/dst$sfx/cache.out" 2>"$work/dst$sfx/cache.log" &
  disown; daemons+=("$!"); track "$!"; wait_ready "$!" "$work/dst$sfx/cache.out" image-cache
  "${in_src[@]}" java "${FERRY_JVM_OPTIONS[@]}" "${FERRY_PROXY_JVM_OPTIONS[@]}" -jar "$j" image-proxy --address $DST_IP \
    --port "$port" --run-dir "$work/src$sfx" --criu "$criu" --tls-cert "$work/pki/source.pem" \
    --tls-key "$work/pki/source-key.pem" --tls-ca "$work/pki/ca.pem" </dev/null >"$work/src$sfx/proxy.out" 2>"$work/src$sfx/proxy.log" &
  disown; daemons+=("$!"); track "$!"; wait_ready "$!" "$work/src$sfx/proxy.out" image-proxy
}
start_pair "$jar" $PORT ""
[ -z "$base_jar" ] || start_pair "$base_jar" $((PORT + 10)) "-base"

wl_pid=""
start_wl() {  # start_wl TAG → $wl_pid (the namespace's init as the host sees it), its sha in $work/TAG.sha
  local tag=$1 u
  rm -f "$work/$tag.sha" "$work/$tag.sums"
  "${in_src[@]}" setsid unshare --pid --fork setsid /usr/bin/python3 "$wl" "$size" "$work/$tag.sha" "$work/$tag.sums" 0.5 \
    </dev/null >/dev/null 2>&1 &
  u=$!; track "$u"
  for _ in $(seq 100); do wl_pid=$(pgrep -P "$u" | head -1 || true); [ -n "$wl_pid" ] && break; sleep 0.05; done
  [ -n "$wl_pid" ] || die "memhold.py did not start"; track "$wl_pid"
  for _ in $(seq 1200); do [ -s "$work/$tag.sha" ] && [ -s "$work/$tag.sums" ] && return 0; sleep 0.1; done
  die "memhold.py wrote no checksum"
}
check_memory() {  # check_memory TAG RESTORED_PID → ok or why not; then ends the restored copy
  local tag=$1 pid=$2 n0 sha
  track "$pid"
  n0=$(wc -l < "$work/$tag.sums"); sha=$(cat "$work/$tag.sha")
  for _ in $(seq 600); do [ "$(wc -l < "$work/$tag.sums")" -gt "$((n0 + 1))" ] && break; sleep 0.1; done
  if [ "$(wc -l < "$work/$tag.sums")" -le "$((n0 + 1))" ]; then echo "no new checksum"
  elif awk '{print $2}' "$work/$tag.sums" | grep -qv "^$sha\$"; then echo "memory changed"
  else echo ok; fi
  kill_own KILL "$pid"
}

: > "$work/runs.tsv"
echo -e "run\tcase\tdowntime_ms\tlast_page_ms\ttotal_ms\tlazy_bytes\tchecks\tload1" >> "$work/runs.tsv"
row() { echo -e "$*" >> "$work/runs.tsv"; }
run_ferry() {  # run_ferry RUN lazy|stop|base (base: --lazy through the baseline pair, with the baseline jar)
  local r=$1 cs=$2 out extra=() fr lz tot rp chk lb client=("${java_client[@]}") dir="$work/src"
  start_wl "f$cs$r"
  [ "$cs" = stop ] || extra=(--lazy)
  [ "$cs" = base ] && { client=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$base_jar"); dir="$work/src-base"; }
  out=$("${in_src[@]}" "${client[@]}" migrate -t "$wl_pid" --run-dir "$dir" "${extra[@]}" --json 2>"$work/f$cs$r.err") \
    || die "ferry migrate ($cs) failed: $(tail -3 "$work/f$cs$r.err")"
  read -r fr lz tot rp lb < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["freeze_ms"], j.get("lazy_ms",0), j["duration_ms"], j["restored_pid"], j.get("lazy_bytes",0))' "$out")
  chk=$(check_memory "f$cs$r" "$rp")
  row "$r\tferry-$cs\t$fr\t$((fr + lz))\t$tot\t$lb\t$chk\t$(cut -d' ' -f1 /proc/loadavg)"
  printf '  run %d ferry %-5s downtime %5d ms  last page %6d ms  total %6d ms  %s\n' "$r" "$cs" "$fr" "$((fr + lz))" "$tot" "$chk"
}
run_criu() {  # the field notes' §5, in node src over 127.0.0.1
  local r=$1 src=$shm/src$r dst=$shm/dst$r t0 t1 t2 t3 dump lazy rp sz chk
  start_wl "c$r"
  mkdir -p "$src" "$dst"
  t0=$(now)
  "${in_src[@]}" "$criu" dump -t "$wl_pid" -D "$src" -o dump.log --lazy-pages --address 127.0.0.1 --port $PS_PORT </dev/null >/dev/null 2>&1 &
  dump=$!; track "$dump"
  for _ in $(seq 20000); do listening "$dump" $PS_PORT && break; alive "$dump" || die "criu dump exited"; sleep 0.001; done
  cp -a "$src/." "$dst/"; rm -f "$dst/dump.log"
  "${in_src[@]}" "$criu" lazy-pages --page-server --address 127.0.0.1 --port $PS_PORT -D "$dst" -o lazy.log </dev/null >/dev/null 2>&1 &
  lazy=$!; track "$lazy"
  for _ in $(seq 20000); do [ -S "$dst/lazy-pages.socket" ] && break; sleep 0.001; done
  "${in_src[@]}" "$criu" restore -D "$dst" -o restore.log -d --lazy-pages --pidfile "$dst/r.pid" </dev/null >/dev/null 2>&1 || die "criu restore failed: $dst/restore.log"
  t1=$(now)
  for _ in $(seq 12000); do alive "$lazy" || break; sleep 0.005; done
  t2=$(now)
  for _ in $(seq 2000); do alive "$dump" || break; sleep 0.005; done
  t3=$(now)
  sz=$(seized_s "$src/dump.log")
  local frz; frz=$(awk -v a="$t0" -v s="$sz" 'BEGIN {printf "%.6f", a + s}')
  rp=$(cat "$dst/r.pid")
  chk=$(check_memory "c$r" "$rp")
  row "$r\tcriu-lazy\t$(ms "$frz" "$t1")\t$(ms "$frz" "$t2")\t$(ms "$t0" "$t3")\t0\t$chk\t$(cut -d' ' -f1 /proc/loadavg)"
  printf '  run %d criu  lazy  downtime %5d ms  last page %6d ms  total %6d ms  %s\n' "$r" "$(ms "$frz" "$t1")" "$(ms "$frz" "$t2")" "$(ms "$t0" "$t3")" "$chk"
  rm -rf "$src" "$dst"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "lazy: $runs runs (after one warm-up) of a $size MiB process per case; load at start: $load_start"
ncases=3; [ -z "$base_jar" ] || ncases=4
for r in $(seq 0 "$runs"); do
  for i in $(seq 0 $((ncases - 1))); do
    case $(((i + r) % ncases)) in 0) run_ferry "$r" lazy;; 1) run_ferry "$r" stop;; 2) run_criu "$r";; 3) run_ferry "$r" base;; esac
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$repo/bench/results"
ts=$(date -u +%Y%m%dT%H%M%SZ)
python3 - "$work/runs.tsv" "$repo/bench/results/lazy-$ts.json" "$runs" "$size" "$load_start" "$load_end" "$(nproc)" \
  "$(uname -r)" "$("$criu" --version | awk '/^Version:/ {print $2}')" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY'
import csv, json, statistics, sys
tsv, out, runs, size, load_start, load_end, cpus, kernel, criu, commit = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
for r in rows:
    for k in ("run", "downtime_ms", "last_page_ms", "total_ms", "lazy_bytes", "load1"):
        r[k] = float(r[k])
m = [r for r in rows if r["run"] > 0]
med = lambda cs, k: statistics.median([r[k] for r in m if r["case"] == cs])
names = {"ferry-lazy": "ferry --lazy (TLS)", "ferry-stop": "ferry stop-and-copy", "criu-lazy": "hand-run CRIU lazy"}
if any(r["case"] == "ferry-base" for r in rows):
    names["ferry-base"] = "baseline --lazy (TLS)"
summary = {cs: {k: med(cs, k) for k in ("downtime_ms", "last_page_ms", "total_ms")} for cs in names}
for cs in names:
    summary[cs]["downtime_every_run_ms"] = [int(r["downtime_ms"]) for r in m if r["case"] == cs]
loads = [r["load1"] for r in m]
base = summary["criu-lazy"]["downtime_ms"]
ratio = summary["ferry-lazy"]["downtime_ms"] / base if base else None
goal_ratio = "PASS" if ratio is not None and ratio <= 1.2 else "MISS"
goal_abs = "PASS" if summary["ferry-lazy"]["downtime_ms"] <= 300 else "MISS"
print(f"\n{size} MiB process, medians over {runs} runs (ms); load average (1 min) during the runs "
      f"{min(loads):.1f}-{max(loads):.1f}, median {statistics.median(loads):.1f} on {cpus} CPUs")
print(f"{'case':22} {'downtime':>9} {'last page':>10} {'total':>7}   downtime of every run")
for cs, n in names.items():
    s = summary[cs]
    print(f"{n:22} {s['downtime_ms']:9.0f} {s['last_page_ms']:10.0f} {s['total_ms']:7.0f}   {s['downtime_every_run_ms']}")
print(f"ferry --lazy downtime / hand-run: {ratio:.2f} (goal <= 1.2): {goal_ratio};  ferry --lazy downtime "
      f"{summary['ferry-lazy']['downtime_ms']:.0f} ms (goal <= 300): {goal_abs}")
if "ferry-base" in names:
    b = summary["ferry-base"]["downtime_ms"]
    print(f"ferry --lazy downtime / baseline jar's: {summary['ferry-lazy']['downtime_ms'] / b:.2f};  baseline / hand-run:"
          f" {b / base:.2f}")
print("downtime: source frozen (CRIU's 'Seized task') -> the tree runs on the target; last page: -> the target has every"
      " page (stop-and-copy: = downtime); total: the whole command (ferry: preflight included; hand-run: dump start -> dump exit)")
bad = [r for r in rows if r["checks"] != "ok"]
for r in bad:
    print(f"CHECK FAILED: run {int(r['run'])} {r['case']}: {r['checks']}")
json.dump({"benchmark": "lazy", "size_mib": int(size), "goal_ratio": 1.2, "goal_downtime_ms": 300, "runs": int(runs),
           "warmup_runs": 1, "cpus": int(cpus), "kernel": kernel, "criu": criu, "commit": commit,
           "load_start": load_start, "load_end": load_end,
           "load1_during_runs": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
           "ratio": ratio, "goal_ratio_verdict": goal_ratio, "goal_downtime_verdict": goal_abs,
           "summary": summary, "per_run": rows, "checks_failed": len(bad)}, open(out, "w"), indent=1)
print(f"\nresults: {out}")
sys.exit(1 if bad else 0)
PY
