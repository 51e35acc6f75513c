#!/usr/bin/env bash
# Stop-and-copy migration between two network-namespace "nodes" on this one machine, side by side in one
# run, for a process holding SIZE GiB of touched memory in its own PID namespace:
#   ferry:      image-proxy in src streams `ferry dump --remote` to the image-cache in dst, which holds the
#               snapshot in memory and restores it (`ferry restore --remote`); the two daemons talk mutual TLS
#               with a PKI the run makes with `ferry certs` ("ferry (TLS)"), or plain TCP with --insecure
#   ferry-base: with --baseline-jar only: the same as ferry with daemons and client from another jar (A/B)
#   disk:       plain `criu dump` to tmpfs in src, tar | socat across the bridge to tmpfs in dst, `criu restore`
#   pageserver: `criu page-server` in dst, `criu dump --page-server` in src, the other images by tar | socat,
#               `criu restore` in dst
#   raw:        socat moving the snapshot's number of bytes across the same bridge (the link's limit)
#   rawtls:     the same through socat's OpenSSL, TLS 1.3 with the run's PKI and mutual verification as ferry's
#               daemons use it: what encrypting and decrypting in user space (this kernel has no kTLS) costs in C
#   nullstream: `criu dump --stream` in src into bench/null_streamer.py, which splices every byte to /dev/null:
#               CRIU's own cost on the way out, the floor under any streamer's dump on this machine
# plus the daemons' peak RSS and CPU seconds per GB, and the ratios against the targets (bench/README.md).
#
# Usage (root): bench/migrate.sh [--sizes 1,2,4] [--runs 3] [--warmups 1] [--paths ferry,raw,rawtls,disk,pageserver,nullstream]
#                                 [--insecure] [--baseline-jar PATH] [--jfr] [--perf] [--flame]
#   --sizes in GiB (a suffix M means MiB, for quick checks: --sizes 256M); each size starts with --warmups
#           uncounted runs of every path (fresh daemons per size still JIT-compile in the first counted runs)
#   --jfr   records the daemons with Java Flight Recorder into bench/results/ (adds some overhead)
#   --flame profiles both daemons with async-profiler (CPU, Java and kernel frames, every thread, the whole life of
#           the daemons: warm-up and JIT included) into flame graphs, bench/results/migrate-<ts>-[base-]{proxy,cache}-
#           <size>m.html (FERRY_FLAME_FORMAT=collapsed: folded stacks as text instead); async-profiler comes from Maven
#           Central (tools.profiler:async-profiler)
#   --perf  records every `ferry dump` and `ferry restore` system-wide with `perf record -a -g` (profiling only)
#   --insecure  the ferry daemons without TLS (`--insecure`, as before mutual TLS became the default)
#   --baseline-jar PATH  adds the path ferry-base (also accepted in --paths): its own image-cache (port 27244)
#           and image-proxy and its client from PATH, same TLS mode, in every run next to ferry (the two swap
#           places every run); the report adds ferry / ferry-base ratios (no verdict)
# Results: bench/results/migrate-<timestamp>.json, .runs.jsonl, .svg and -logs/. Everything it creates (namespaces
# fbench-*, processes, tmpfs dirs) is removed on exit, Ctrl-C included; processes are ended by PID only.
set -euo pipefail

sizes=1,2,4
runs=3
warmups=1
paths=ferry,raw,rawtls,disk,pageserver,nullstream
jfr=0
flame=0
perf=0
tls=1
base_jar=""
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0" >&2; exit 2; }   # the header comment
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=${2:?}; shift 2;;
    --runs) runs=${2:?}; shift 2;;
    --warmups) warmups=${2:?}; shift 2;;
    --paths) paths=${2:?}; shift 2;;
    --jfr) jfr=1; shift;;
    --flame) flame=1; shift;;
    --perf) perf=1; shift;;
    --insecure) tls=0; shift;;
    --baseline-jar) base_jar=${2:?}; shift 2;;
    -h|--help) usage;;
    *) echo "bench: unknown argument '$1'" >&2; usage;;
  esac
done
[[ "$sizes" =~ ^[1-9][0-9]*M?(,[1-9][0-9]*M?)*$ ]] \
  || { echo "bench: --sizes: '$sizes' (expected: GiB, comma-separated, e.g. 1,2,4; a suffix M means MiB: 256M)" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "bench: --runs: '$runs' (expected: 1..99)" >&2; exit 2; }
[[ "$warmups" =~ ^[0-9]$ ]] || { echo "bench: --warmups: '$warmups' (expected: 0..9)" >&2; exit 2; }
[[ "$paths" =~ ^(ferry|ferry-base|raw|rawtls|disk|pageserver|nullstream)(,(ferry|ferry-base|raw|rawtls|disk|pageserver|nullstream))*$ ]] \
  || { echo "bench: --paths: '$paths' (expected: a comma-separated subset of ferry,raw,rawtls,disk,pageserver,nullstream; ferry-base with --baseline-jar)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (CRIU and network namespaces need it)" >&2; exit 1; }
has_path() { [[ ",$paths," == *",$1,"* ]]; }
if [ -n "$base_jar" ]; then
  [ -f "$base_jar" ] && [ -r "$base_jar" ] || { echo "bench: --baseline-jar: '$base_jar' is not a readable file" >&2; exit 2; }
  base_jar=$(readlink -f "$base_jar")
  if ! has_path ferry-base; then   # --baseline-jar adds its path
    if has_path ferry; then paths=${paths/ferry/ferry,ferry-base}; else paths=$paths,ferry-base; fi
  fi
elif has_path ferry-base; then
  echo "bench: --paths: ferry-base needs --baseline-jar PATH (the jar to compare with)" >&2; exit 2
fi
has_ferry() { has_path ferry || has_path ferry-base; }

repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/cli/target/ferry.jar
criu=$repo/.criu/bin/criu
report=$repo/bench/migrate_report.py
py=/usr/bin/python3
P=fbench-                     # namespace name prefix: fbench-sw (bridge), fbench-src, fbench-dst
SUBNET=10.231.40
SRC_IP=$SUBNET.1
DST_IP=$SUBNET.2
CACHE_PORT=27240 PS_PORT=27241 COPY_PORT=27242 RAW_PORT=27243 BASE_CACHE_PORT=27244
BUF=1048576                   # socat buffer: 1 MiB
STEP=600                      # seconds any one step may take (timeout)
IN_SRC=(nsenter --net=/run/netns/${P}src)   # nsenter, not `ip netns exec`: its private mount ns breaks CRIU
IN_DST=(nsenter --net=/run/netns/${P}dst)
IN_SW=(nsenter --net=/run/netns/${P}sw)

# ---------------------------------------------------------------- prerequisites (installs what is missing)
for tool in ip nsenter unshare setsid tar java mvn timeout flock ss; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' not found" >&2; exit 1; }
done
[ -x "$py" ] || { echo "bench: $py not found" >&2; exit 1; }
[ "$perf" = 0 ] || command -v perf >/dev/null || { echo "bench: --perf needs perf (Debian: linux-perf)" >&2; exit 1; }
ASPROF_VERSION=4.1
asprof_lib=""
if [ "$flame" = 1 ]; then   # async-profiler's agent, from its jar on Maven Central, unpacked into bench/results/tools
  asprof_jar=$HOME/.m2/repository/tools/profiler/async-profiler/$ASPROF_VERSION/async-profiler-$ASPROF_VERSION.jar
  [ -f "$asprof_jar" ] || mvn -B -q dependency:get -Dartifact=tools.profiler:async-profiler:$ASPROF_VERSION >&2 \
    || { echo "bench: --flame: cannot fetch tools.profiler:async-profiler:$ASPROF_VERSION from Maven Central" >&2; exit 1; }
  asprof_dir=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)/results/tools/async-profiler-$ASPROF_VERSION
  mkdir -p "$asprof_dir"
  (cd "$asprof_dir" && jar xf "$asprof_jar" linux-x64/libasyncProfiler.so) \
    || { echo "bench: --flame: cannot unpack $asprof_jar with the JDK's jar tool" >&2; exit 1; }
  asprof_lib=$asprof_dir/linux-x64/libasyncProfiler.so
fi
if ! command -v socat >/dev/null; then
  echo "bench: installing socat ..." >&2
  apt-get install -y -q socat >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q socat >/dev/null; }
fi
[ -x "$criu" ] || "$repo/scripts/install-criu" >&2
# Same staleness rule as ./ferry, but `package`, not `install`: a benchmark must not replace the SNAPSHOT
# artifacts in ~/.m2 that other checkouts on this machine may build against.
if [ ! -f "$jar" ] || [ -n "$(find "$repo" -path "$repo/.criu" -prune -o -path "$repo/bench" -prune -o \( -path '*/src/main/*' -o -name pom.xml \) -newer "$jar" -print -quit 2>/dev/null)" ]; then
  echo "bench: building $jar ..." >&2
  (cd "$repo" && mvn -B -q -DskipTests -pl cli -am package) >&2
fi
# The JVM as ./ferry starts it (the flags of scripts/jvm-options, then FERRY_JAVA_OPTS), so daemons and clients run
# as a user's would.
# shellcheck source=scripts/jvm-options
. "$repo/scripts/jvm-options"
# shellcheck disable=SC2206 # FERRY_JAVA_OPTS is split on purpose, as ./ferry does
ferry_java=(java "${FERRY_JVM_OPTIONS[@]}" ${FERRY_JAVA_OPTS:-})
# The image-proxy's own flags, as ./ferry gives them (both variants: a flag is deployment, not code), unless
# FERRY_PROXY_OPTS (ferry's proxy) or FERRY_BASE_PROXY_OPTS (ferry-base's) say otherwise: an A/B of a proxy flag
# shellcheck disable=SC2206
proxy_opts=(${FERRY_PROXY_OPTS:-${FERRY_PROXY_JVM_OPTIONS[*]}})
# shellcheck disable=SC2206
base_proxy_opts=(${FERRY_BASE_PROXY_OPTS:-${FERRY_PROXY_JVM_OPTIONS[*]}})
# ferry-base's JVM: FERRY_BASE_JAVA_OPTS when set (to A/B a JVM flag with the same jar on both paths: flags given
# later win, e.g. -XX:TieredStopAtLevel=4 brings C2 back), else the same as ferry's
# shellcheck disable=SC2206
base_java=(java "${FERRY_JVM_OPTIONS[@]}" ${FERRY_BASE_JAVA_OPTS-${FERRY_JAVA_OPTS:-}})

# One run at a time: the namespace names and ports are fixed.
lock=/run/fbench-migrate.lock
exec 9>"$lock"   # every long-lived child gets 9>&-
flock -n 9 || { echo "bench: another bench/migrate.sh is running (lock $lock)" >&2; exit 1; }

stamp=$(date +%Y%m%d-%H%M%S)
results=$repo/bench/results
mkdir -p "$results"
work=$(mktemp -d /tmp/fbench.XXXXXX)          # daemon run dirs, logs, the workload script
shm=$(mktemp -d /dev/shm/fbench.XXXXXX)       # tmpfs image dirs of the CRIU paths
mkdir -p "$work/logs" "$shm/src" "$shm/dst"
runs_file=$work/runs.jsonl
: > "$runs_file"

# ---------------------------------------------------------------- processes we started, ended by PID
declare -A started=()   # pid -> its start time (field 22 of /proc/PID/stat): a reused PID is never hit
stat_fields() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; echo "${s##*) }"; }   # fields 3.. (after comm)
start_time() { local f; f=$(stat_fields "$1") || return 1; set -- $f; echo "${20}"; }
state() { local f; f=$(stat_fields "$1") || { echo gone; return; }; echo "${f%% *}"; }
own() { local t; t=$(start_time "$1") && started[$1]=$t; }
ours() { [ -n "${started[$1]:-}" ] && [ "$(start_time "$1" 2>/dev/null)" = "${started[$1]}" ]; }
descendants() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done; }
end_pid() {  # end_pid PID [GRACE_S]: SIGTERM and up to GRACE_S to exit, then SIGKILL (with what it started)
  local p=$1 grace=${2:-0} i kids
  ours "$p" || { unset "started[$p]"; return 0; }
  if [ "$grace" -gt 0 ]; then
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < grace * 20; i++)); do [ "$(state "$p")" = Z ] || ! ours "$p" && break; sleep 0.05; done
  fi
  if ours "$p" && [ "$(state "$p")" != Z ]; then
    kids=$(descendants "$p")
    kill -KILL "$p" $kids 2>/dev/null || true
  fi
  unset "started[$p]"
}
wait_gone() {  # until PID has exited (gone or zombie: its memory is free either way); bounded
  local i
  for ((i = 0; i < 600; i++)); do case $(state "$1") in gone|Z|X) return 0;; esac; sleep 0.05; done
  echo "bench: pid $1 still there after 30 s" >&2; return 1
}

ns_del_all() { local n; for n in src dst sw; do ip netns del "$P$n" 2>/dev/null || true; done; }
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  set +e
  for p in "${!started[@]}"; do end_pid "$p" 0; done
  ns_del_all
  if [ -d "$work/logs" ]; then   # small text files: daemon logs, CRIU logs, command outputs
    mkdir -p "$results/migrate-$stamp-logs"
    cp -r "$work/logs/." "$results/migrate-$stamp-logs/" 2>/dev/null
    [ "$rc" != 0 ] && echo "bench: failed (exit $rc); logs kept in $results/migrate-$stamp-logs" >&2
  fi
  rm -rf "$work" "$shm" "$lock"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { local t=${EPOCHREALTIME//[.,]/}; echo "$t"; }
ms_since() { echo $(( ($(now_us) - $1) / 1000 )); }
die() { echo "bench: $*" >&2; exit 1; }
listening() {  # listening NODE PORT: waits (bounded) until something listens there
  local i
  for ((i = 0; i < 200; i++)); do
    [ -n "$(nsenter --net="/run/netns/$P$1" ss -Hltn "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.025
  done
  die "nothing listens on $1:$2 after 5 s"
}

# ---------------------------------------------------------------- two nodes: src and dst, bridge in sw
lab_up() {
  ns_del_all   # leftovers of a run killed with SIGKILL (we hold the lock: nobody else uses these names)
  ip netns add "${P}sw"
  "${IN_SW[@]}" ip link set lo up
  "${IN_SW[@]}" ip link add br0 type bridge
  "${IN_SW[@]}" ip link set br0 up
  local n ip i
  for n in src dst; do
    ip=$SRC_IP; [ "$n" = dst ] && ip=$DST_IP
    ip netns add "$P$n"
    # both ends are created inside the namespaces: the root namespace never sees them
    ip link add eth0 netns "$P$n" type veth peer name "p-$n" netns "${P}sw"
    "${IN_SW[@]}" ip link set "p-$n" master br0 up
    nsenter --net="/run/netns/$P$n" ip link set lo up
    nsenter --net="/run/netns/$P$n" ip addr add "$ip/24" dev eth0
    nsenter --net="/run/netns/$P$n" ip link set eth0 up
  done
  # reachable = a TCP connect to a closed port is refused by dst (ping may not be installed)
  for ((i = 0; i < 50; i++)); do
    [[ "$("${IN_SRC[@]}" timeout 1 bash -c "exec 3<>/dev/tcp/$DST_IP/$RAW_PORT" 2>&1)" == *refused* ]] && return 0
    sleep 0.1
  done
  die "src cannot reach $DST_IP"
}

# ---------------------------------------------------------------- the workload
cat > "$work/hold.py" <<'PY'
# hold.py MIB READY_FILE: maps MIB MiB of private anonymous memory, writes every page, says ready, sleeps.
import mmap, sys, time
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for i in range(0, n, 4096):
    m[i] = (i >> 12) & 0x7f | 1
open(sys.argv[2], "w").write("ready\n")
while True:
    time.sleep(1)
PY

workload=""
start_workload() {  # start_workload MIB: sets $workload to the host PID of the namespace's init
  local up child="" i
  rm -f "$work/ready"
  # setsid outside and inside the PID namespace: CRIU wants the ns init to lead its session (notes §1.3)
  # 9>&-: the benchmark's lock must not reach the workload (CRIU refuses to dump a held file lock)
  "${IN_SRC[@]}" setsid unshare -pf setsid "$py" "$work/hold.py" "$1" "$work/ready" </dev/null >/dev/null 2>&1 9>&- &
  up=$!
  own "$up"; disown "$up"
  for ((i = 0; i < 2400; i++)); do
    [ -z "$child" ] && child=$(awk '{print $1}' "/proc/$up/task/$up/children" 2>/dev/null || true)
    [ -n "$child" ] && [ -f "$work/ready" ] && break
    sleep 0.05
  done
  [ -n "$child" ] && [ -f "$work/ready" ] || die "workload of $1 MiB not ready after 120 s"
  own "$child"
  workload=$child
}
end_restored() {  # end_restored PIDFILE: the restored copy is ours too
  local p
  p=$(cat "$1")
  own "$p"
  end_pid "$p" 0
  wait_gone "$p"
}
record() { echo "$1" >> "$runs_file"; }
freeze=0 memdump=0 memwrite=0
read_stats() {  # read_stats STATS_FILE: CRIU's stats-dump, in ms
  local f
  read -r -a f <<< "$("$py" "$report" stats "$1")"
  freeze=$(( (f[0] + f[1]) / 1000 ))   # freeze -> tasks killed: freezing_time + frozen_time
  memdump=$(( f[2] / 1000 ))           # collecting the pages (page pipes) while frozen
  memwrite=$(( f[3] / 1000 ))          # writing them out: to the image files / streamer pipes / page server
}
stats_json() { echo "\"dump_ms\":$freeze,\"memdump_ms\":$memdump,\"memwrite_ms\":$memwrite"; }
to_dst() {  # to_dst DIR TAG: tar of DIR in src | socat -> bridge -> socat | tar -x into $shm/dst in dst
  local rx
  "${IN_DST[@]}" bash -c "socat -b$BUF -u TCP-LISTEN:$COPY_PORT,bind=$DST_IP,reuseaddr - | tar -x -B -b 2048 -C '$shm/dst'" \
    >"$work/logs/$2-rx.log" 2>&1 9>&- &
  rx=$!; own "$rx"
  listening dst "$COPY_PORT"
  timeout "$STEP" "${IN_SRC[@]}" bash -c "tar -c -b 2048 -C '$1' . | socat -b$BUF -u - TCP:$DST_IP:$COPY_PORT" \
    >"$work/logs/$2-tx.log" 2>&1 || die "copy $2 failed (see $work/logs/$2-tx.log)"
  wait "$rx" || die "copy $2: receiver failed (see $work/logs/$2-rx.log)"
  unset "started[$rx]"
}

# ---------------------------------------------------------------- daemons, fresh per size
# Two variants of the ferry path, each with its own daemon pair, run dirs, port and file prefixes:
#   ferry       the jar of this checkout; daemon logs cache-/proxy-<size>m.*, snapshots (and per-run logs) fb-*
#   ferry-base  --baseline-jar;          daemon logs base-cache-/base-proxy-<size>m.*, snapshots fbb-*
declare -A proxy_of=() cache_of=()   # variant -> daemon PID
v_jar="" v_port="" v_src="" v_dst="" v_pre="" v_snap="" v_java=()
variant() {  # variant ferry|ferry-base: sets v_jar v_port v_src (proxy run dir) v_dst (cache run dir) v_pre v_snap
  if [ "$1" = ferry ]; then
    v_jar=$jar v_port=$CACHE_PORT v_src=$work/src-run v_dst=$work/dst-run v_pre="" v_snap=fb v_java=("${ferry_java[@]}")
  else
    v_jar=$base_jar v_port=$BASE_CACHE_PORT v_src=$work/src-run-base v_dst=$work/dst-run-base v_pre=base- v_snap=fbb
    v_java=("${base_java[@]}")
  fi
}
# Mutual TLS between image-proxy and image-cache (set in main from the run's PKI), or --insecure
tls_cache=(--insecure) tls_proxy=(--insecure)
make_pki() {  # make_pki DIR: a CA, the cache's certificate (CN target, SAN dst's address), the proxy's (CN source)
  { "${ferry_java[@]}" -jar "$jar" certs init "$1" \
      && "${ferry_java[@]}" -jar "$jar" certs issue target --dir "$1" --san "$DST_IP" \
      && "${ferry_java[@]}" -jar "$jar" certs issue source --dir "$1"; } >"$work/logs/certs.log" 2>&1 \
    || die "ferry certs failed (see $work/logs/certs.log)"
  tls_cache=(--tls-allow source --tls-cert "$1/target.pem" --tls-key "$1/target-key.pem" --tls-ca "$1/ca.pem")
  tls_proxy=(--tls-cert "$1/source.pem" --tls-key "$1/source-key.pem" --tls-ca "$1/ca.pem")
}
await_ready() {  # await_ready PID OUTFILE NAME
  local i
  for ((i = 0; i < 1200; i++)); do grep -q '^ready' "$2" 2>/dev/null && return 0; ours "$1" || break; sleep 0.05; done
  die "$3 did not start (see ${2%.out}.log)"
}
start_daemons() {  # start_daemons TAG VARIANT: a fresh image-cache in dst and image-proxy in src
  local tag=$1 jo_p=() jo_c=() p
  variant "$2"
  if [ "$flame" = 1 ]; then   # the flame graph is written when the daemon exits (SIGTERM)
    jo_p+=("-agentpath:$asprof_lib=start,event=cpu,interval=1ms,file=$results/migrate-$stamp-${v_pre}proxy-$tag.${FERRY_FLAME_FORMAT:-html}")
    jo_c+=("-agentpath:$asprof_lib=start,event=cpu,interval=1ms,file=$results/migrate-$stamp-${v_pre}cache-$tag.${FERRY_FLAME_FORMAT:-html}")
  fi
  if [ "$jfr" = 1 ]; then
    jo_p+=("-XX:StartFlightRecording=filename=$results/migrate-$stamp-${v_pre}proxy-$tag.jfr,settings=profile,dumponexit=true")
    jo_c+=("-XX:StartFlightRecording=filename=$results/migrate-$stamp-${v_pre}cache-$tag.jfr,settings=profile,dumponexit=true")
  fi
  rm -rf "$v_src" "$v_dst"
  # nsenter execs java, so $! is the daemon's own PID (VmHWM and CPU time are read from it)
  "${IN_DST[@]}" "${v_java[@]}" "${jo_c[@]}" -jar "$v_jar" image-cache --listen "$DST_IP" --port "$v_port" "${tls_cache[@]}" \
    --run-dir "$v_dst" --criu "$criu" --node dst >"$work/logs/${v_pre}cache-$tag.out" 2>"$work/logs/${v_pre}cache-$tag.log" 9>&- &
  p=$!; own "$p"; disown "$p"; cache_of[$2]=$p
  await_ready "$p" "$work/logs/${v_pre}cache-$tag.out" "image-cache ($2)"
  local popts=("${proxy_opts[@]}"); [ "$2" = ferry-base ] && popts=("${base_proxy_opts[@]}")
  "${IN_SRC[@]}" "${v_java[@]}" "${popts[@]}" "${jo_p[@]}" -jar "$v_jar" image-proxy --address "$DST_IP" --port "$v_port" "${tls_proxy[@]}" \
    --run-dir "$v_src" --criu "$criu" --node src >"$work/logs/${v_pre}proxy-$tag.out" 2>"$work/logs/${v_pre}proxy-$tag.log" 9>&- &
  p=$!; own "$p"; disown "$p"; proxy_of[$2]=$p
  await_ready "$p" "$work/logs/${v_pre}proxy-$tag.out" "image-proxy ($2)"
}
stop_daemons() {  # both pairs; the proxies first (as before)
  local v
  for v in "${!proxy_of[@]}"; do end_pid "${proxy_of[$v]}" 15; done
  for v in "${!cache_of[@]}"; do end_pid "${cache_of[$v]}" 15; done
  proxy_of=() cache_of=()
}
cpu_ticks() { local f; f=$(stat_fields "$1"); set -- $f; echo $(( ${12} + ${13} )); }   # utime + stime
min_faults() { local f; f=$(stat_fields "$1"); set -- $f; echo "${8}"; }   # minflt: pages touched for the first time
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Per-thread CPU of a variant's two daemons (and of CRIU, their reaped child) around each dump and restore:
# which thread a miss is spent in. Written to logs/<snapshot>-threads.txt.
tasks_snapshot() { "$py" "$report" tasks-snapshot "$work/tasks-$1.json" "$2" "$3"; }   # NAME PROXY CACHE
tasks_total() { "$py" "$report" tasks-total "$work/tasks-$1.json" "$work/tasks-$2.json" "$3"; }
tasks_delta() { "$py" "$report" tasks-delta "$work/tasks-$1.json" "$work/tasks-$2.json" "proxy=$3" "cache=$4"; }

# ---------------------------------------------------------------- the paths; each records one JSON line
# Each takes MIB RUN WARMUP(true|false). A `ferry migrate` path is one more function and one more name in --paths.
last_bytes=0 base_bytes=0
path_ferry() {  # path_ferry MIB RUN WARMUP [ferry|ferry-base]
  local mib=$1 r=$2 warm=$3 v=${4:-ferry} name t0 t1 t2 t3 out dump_res bytes images wd restore_res profile=()
  local rss_before rss_held rss_after proxy cache tls_json=false
  variant "$v"
  name="$v_snap-$1m-$2" proxy=${proxy_of[$v]} cache=${cache_of[$v]}
  [ "$tls" = 1 ] && tls_json=true
  start_workload "$mib"
  [ "$perf" = 1 ] && profile=(perf record -q -a -g -o "$results/migrate-$stamp-$name-dump.perf" --)
  rss_before=$(rss_kib "$cache")
  tasks_snapshot "$name-0" "$proxy" "$cache"
  t0=$(now_us)
  timeout "$STEP" "${profile[@]}" "${v_java[@]}" -jar "$v_jar" dump -t "$workload" -D "$name" --remote --run-dir "$v_src" \
    >"$work/logs/$name-dump.out" 2>&1 || { cat "$work/logs/$name-dump.out" >&2; die "$v dump failed"; }
  t1=$(now_us)
  tasks_snapshot "$name-1" "$proxy" "$cache"
  out=$(grep 'bytes, verified' "$work/logs/$name-dump.out") || die "$v dump: no result line in $work/logs/$name-dump.out"
  dump_res=$(sed -n 's/.*(\([0-9]*\) ms)$/\1/p' <<< "$out")
  bytes=$(sed -n 's/.* \([0-9]*\) bytes, verified.*/\1/p' <<< "$out")
  images=$(sed -n 's/.*: \([0-9]*\) images, .*/\1/p' <<< "$out")
  wd=$(ls -td "$v_src/proxy-work"/d-*); wd=${wd%%$'\n'*}   # one dump at a time: the newest is ours
  read_stats "$wd/stats-dump"
  cp "$wd/dump.log" "$work/logs/$name-criu-dump.log"
  rss_held=$(rss_kib "$cache")
  wait_gone "$workload"
  rm -f "$work/restored.pid"
  t2=$(now_us)
  [ "$perf" = 1 ] && profile=(perf record -q -a -g -o "$results/migrate-$stamp-$name-restore.perf" --)
  timeout "$STEP" "${profile[@]}" "${v_java[@]}" -jar "$v_jar" restore -D "$name" --remote -d --pidfile "$work/restored.pid" \
    --run-dir "$v_dst" >"$work/logs/$name-restore.out" 2>&1 || { cat "$work/logs/$name-restore.out" >&2; die "$v restore failed"; }
  t3=$(now_us)
  tasks_snapshot "$name-2" "$proxy" "$cache"
  { echo "CPU per thread during the dump ($name)"; tasks_delta "$name-0" "$name-1" "$proxy" "$cache"
    echo; echo "CPU per thread during the restore ($name)"; tasks_delta "$name-1" "$name-2" "$proxy" "$cache"; } > "$work/logs/$name-threads.txt"
  restore_res=$(sed -n 's/.*(\([0-9]*\) ms)$/\1/p' "$work/logs/$name-restore.out")
  [ -n "$restore_res" ] || die "$v restore: no duration in $work/logs/$name-restore.out"
  end_restored "$work/restored.pid"
  rss_after=$(rss_kib "$cache")   # the snapshot was dropped after its restore
  if [ "$v" = ferry ]; then last_bytes=$bytes; else base_bytes=$bytes; fi
  record "{\"path\":\"$v\",\"tls\":$tls_json,\"size_mib\":$mib,\"run\":$r,\"warmup\":$warm,\"bytes\":$bytes,\"images\":$images,$(stats_json),\"dump_result_ms\":$dump_res,\"dump_cmd_ms\":$(( (t1 - t0) / 1000 )),\"restore_ms\":$restore_res,\"restore_cmd_ms\":$(( (t3 - t2) / 1000 )),\"e2e_ms\":$(( freeze + restore_res )),\"e2e_wall_ms\":$(( (t3 - t0) / 1000 )),\"cache_rss_before_kib\":$rss_before,\"cache_rss_held_kib\":$rss_held,\"cache_rss_after_kib\":$rss_after,\"dump_cpu_proxy_ms\":$(tasks_total "$name-0" "$name-1" "$proxy"),\"dump_cpu_cache_ms\":$(tasks_total "$name-0" "$name-1" "$cache")}"
  printf '  %-10s dump %6d ms                restore %6d ms  e2e %6d ms  (%d bytes, %d images; cache RSS %d/%d/%d MiB)\n' \
    "$v" "$freeze" "$restore_res" $(( freeze + restore_res )) "$bytes" "$images" $(( rss_before / 1024 )) $(( rss_held / 1024 )) $(( rss_after / 1024 ))
}

path_raw() {  # path_raw MIB RUN WARM [tls]: the snapshot's number of bytes: /dev/zero -> socat -> bridge -> socat -> /dev/null
  local mib=$1 r=$2 warm=$3 tls_=${4:-} bytes=$last_bytes rx t0 ms tx_cpu rx_cpu name=raw lst=TCP-LISTEN con=TCP lo="" co=""
  local TIMEFORMAT='%U %S'
  [ "$bytes" -gt 0 ] || bytes=$base_bytes
  [ "$bytes" -gt 0 ] || bytes=$(( mib << 20 ))
  if [ -n "$tls_" ]; then   # TLS 1.3 both ways verified, with the certificates ferry's daemons use
    name=rawtls lst=OPENSSL-LISTEN con=OPENSSL
    lo=",cert=$work/pki/target.pem,key=$work/pki/target-key.pem,cafile=$work/pki/ca.pem,verify=1"
    co=",cert=$work/pki/source.pem,key=$work/pki/source-key.pem,cafile=$work/pki/ca.pem,verify=1,openssl-min-proto-version=TLS1.3"
  fi
  # bash's `time` reports the CPU (user, sys) of each socat for the CPU-per-GB comparison with ferry
  ( time "${IN_DST[@]}" socat -b"$BUF" -u "$lst:$RAW_PORT,bind=$DST_IP,reuseaddr$lo" OPEN:/dev/null ) \
    2>"$work/$name-rx.time" 9>&- &
  rx=$!; own "$rx"
  listening dst "$RAW_PORT"
  t0=$(now_us)
  { time timeout "$STEP" "${IN_SRC[@]}" socat -b"$BUF" -u OPEN:/dev/zero,readbytes="$bytes" "$con:$DST_IP:$RAW_PORT$co"; } \
    2>"$work/$name-tx.time" || die "$name socat failed: $(cat "$work/$name-tx.time")"
  wait "$rx" || die "$name socat receiver failed: $(cat "$work/$name-rx.time")"
  ms=$(ms_since "$t0")
  unset "started[$rx]"
  tx_cpu=$(awk 'END {printf "%d", ($1 + $2) * 1000}' "$work/$name-tx.time")
  rx_cpu=$(awk 'END {printf "%d", ($1 + $2) * 1000}' "$work/$name-rx.time")
  record "{\"path\":\"$name\",\"size_mib\":$mib,\"run\":$r,\"warmup\":$warm,\"bytes\":$bytes,\"raw_ms\":$ms,\"tx_cpu_ms\":$tx_cpu,\"rx_cpu_ms\":$rx_cpu}"
  printf '  %-10s %6d ms for %d bytes (CPU: sender %d ms, receiver %d ms)\n' "$name" "$ms" "$bytes" "$tx_cpu" "$rx_cpu"
}

path_disk() {
  local mib=$1 r=$2 warm=$3 tag="disk-$1m-$2" t0 dump_wall copy restore bytes
  start_workload "$mib"
  rm -rf "$shm/src" "$shm/dst"; mkdir "$shm/src" "$shm/dst"
  t0=$(now_us)
  timeout "$STEP" "${IN_SRC[@]}" "$criu" dump -t "$workload" -D "$shm/src" -o "$work/logs/$tag-dump.log" \
    || die "criu dump failed (see $work/logs/$tag-dump.log)"
  dump_wall=$(ms_since "$t0")
  read_stats "$shm/src/stats-dump"
  bytes=$(du -sb "$shm/src" | cut -f1)
  wait_gone "$workload"
  t0=$(now_us); to_dst "$shm/src" "$tag"; copy=$(ms_since "$t0")
  rm -rf "$shm/src"
  rm -f "$work/restored.pid"
  t0=$(now_us)
  timeout "$STEP" "${IN_DST[@]}" "$criu" restore -d -D "$shm/dst" -o "$work/logs/$tag-restore.log" --pidfile "$work/restored.pid" \
    || die "criu restore failed (see $work/logs/$tag-restore.log)"
  restore=$(ms_since "$t0")
  end_restored "$work/restored.pid"
  rm -rf "$shm/dst"; mkdir "$shm/src" "$shm/dst"
  record "{\"path\":\"disk\",\"size_mib\":$mib,\"run\":$r,\"warmup\":$warm,\"bytes\":$bytes,$(stats_json),\"dump_cmd_ms\":$dump_wall,\"copy_ms\":$copy,\"restore_ms\":$restore,\"e2e_ms\":$(( freeze + copy + restore ))}"
  printf '  disk       dump %6d ms  copy %6d ms  restore %6d ms  e2e %6d ms\n' "$freeze" "$copy" "$restore" $(( freeze + copy + restore ))
}

path_pageserver() {
  local mib=$1 r=$2 warm=$3 tag="ps-$1m-$2" t0 dump_wall copy restore bytes server rest
  start_workload "$mib"
  rm -rf "$shm/src" "$shm/dst"; mkdir "$shm/src" "$shm/dst"
  rm -f "$work/ps.pid"
  # -d: returns once it listens; it exits by itself when the dump disconnects
  timeout "$STEP" "${IN_DST[@]}" "$criu" page-server --address "$DST_IP" --port "$PS_PORT" -D "$shm/dst" -d \
    --pidfile "$work/ps.pid" -o "$work/logs/$tag-ps.log" 9>&- || die "criu page-server failed (see $work/logs/$tag-ps.log)"
  server=$(cat "$work/ps.pid"); own "$server"
  t0=$(now_us)
  timeout "$STEP" "${IN_SRC[@]}" "$criu" dump -t "$workload" -D "$shm/src" -o "$work/logs/$tag-dump.log" \
    --page-server --address "$DST_IP" --port "$PS_PORT" || die "criu dump --page-server failed (see $work/logs/$tag-dump.log)"
  dump_wall=$(ms_since "$t0")
  read_stats "$shm/src/stats-dump"
  wait_gone "$server"; unset "started[$server]"
  wait_gone "$workload"
  rest=$(du -sb "$shm/src" | cut -f1)
  t0=$(now_us); to_dst "$shm/src" "$tag"; copy=$(ms_since "$t0")
  rm -rf "$shm/src"
  bytes=$(du -sb "$shm/dst" | cut -f1)
  rm -f "$work/restored.pid"
  t0=$(now_us)
  timeout "$STEP" "${IN_DST[@]}" "$criu" restore -d -D "$shm/dst" -o "$work/logs/$tag-restore.log" --pidfile "$work/restored.pid" \
    || die "criu restore (page server images) failed (see $work/logs/$tag-restore.log)"
  restore=$(ms_since "$t0")
  end_restored "$work/restored.pid"
  rm -rf "$shm/dst"; mkdir "$shm/src" "$shm/dst"
  record "{\"path\":\"pageserver\",\"size_mib\":$mib,\"run\":$r,\"warmup\":$warm,\"bytes\":$bytes,\"rest_bytes\":$rest,$(stats_json),\"dump_cmd_ms\":$dump_wall,\"copy_ms\":$copy,\"restore_ms\":$restore,\"e2e_ms\":$(( freeze + copy + restore ))}"
  printf '  pageserver dump %6d ms  copy %6d ms  restore %6d ms  e2e %6d ms\n' "$freeze" "$copy" "$restore" $(( freeze + copy + restore ))
}

path_nullstream() {  # the floor under any streamer: criu dump --stream into bench/null_streamer.py, in src
  local mib=$1 r=$2 warm=$3 tag="null-$1m-$2" t0 dump_wall streamer i taken
  start_workload "$mib"
  rm -rf "$shm/src"; mkdir "$shm/src"
  rm -f "$work/null.ready"
  "${IN_SRC[@]}" "$py" "$repo/bench/null_streamer.py" "$shm/src" "$work/null.ready" >"$work/logs/$tag-streamer.out" \
    2>&1 9>&- &
  streamer=$!; own "$streamer"
  for ((i = 0; i < 200; i++)); do [ -f "$work/null.ready" ] && break; sleep 0.05; done
  [ -f "$work/null.ready" ] || die "null streamer not listening after 10 s (see $work/logs/$tag-streamer.out)"
  t0=$(now_us)
  timeout "$STEP" "${IN_SRC[@]}" "$criu" dump --stream -t "$workload" -D "$shm/src" -o "$work/logs/$tag-dump.log" \
    || die "criu dump --stream into the null streamer failed (see $work/logs/$tag-dump.log)"
  dump_wall=$(ms_since "$t0")
  wait "$streamer" || die "null streamer failed (see $work/logs/$tag-streamer.out)"
  unset "started[$streamer]"
  read_stats "$shm/src/stats-dump"
  taken=$(awk '{print $1; exit}' "$work/logs/$tag-streamer.out")
  wait_gone "$workload"
  rm -rf "$shm/src"; mkdir "$shm/src"
  record "{\"path\":\"nullstream\",\"size_mib\":$mib,\"run\":$r,\"warmup\":$warm,\"bytes\":$taken,$(stats_json),\"dump_cmd_ms\":$dump_wall}"
  printf '  nullstream dump %6d ms  (CRIU --stream into a streamer that discards: %d bytes)\n' "$freeze" "$taken"
}

# ---------------------------------------------------------------- machine load, recorded with the results
cpu_snapshot() { "$py" "$report" cpu-snapshot "$work/cpu-$1.json" $$; }   # everything not started by us
cpu_delta() { "$py" "$report" cpu-delta "$work/cpu-$1.json" "$work/cpu-$2.json"; }

daemon_figures() {  # daemon_figures VARIANT BYTES: JSON fields of its daemons over the counted runs of a size
  local hz pcpu ccpu gb
  hz=$(getconf CLK_TCK)
  pcpu=$(awk -v a="${p0[$1]}" -v b="$(cpu_ticks "${proxy_of[$1]}")" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
  ccpu=$(awk -v a="${c0[$1]}" -v b="$(cpu_ticks "${cache_of[$1]}")" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
  gb=$(awk -v b="$2" -v n="$runs" 'BEGIN {printf "%.4f", b * n / 1e9}')
  echo "\"proxy_hwm_kib\":$(hwm_kib "${proxy_of[$1]}"),\"cache_hwm_kib\":$(hwm_kib "${cache_of[$1]}"),\"proxy_cpu_s\":$pcpu,\"cache_cpu_s\":$ccpu,\"gb_moved\":$gb,\"proxy_minflt\":$(( $(min_faults "${proxy_of[$1]}") - pf0[$1] )),\"cache_minflt\":$(( $(min_faults "${cache_of[$1]}") - cf0[$1] ))"
}
json_str() { "$py" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
jar_id() { sha256sum "$1" | cut -c1-12; }   # which build ran: the jars' checksums go into the results

# ---------------------------------------------------------------- main
lab_up
if { [ "$tls" = 1 ] && has_ferry; } || has_path rawtls; then make_pki "$work/pki"; fi   # one PKI per run, for all
[ "$tls" = 1 ] || { tls_cache=(--insecure); tls_proxy=(--insecure); }   # rawtls alone needs the PKI
mode="mutual TLS"; [ "$tls" = 1 ] || mode="--insecure"
echo "bench: nodes ${P}src ($SRC_IP) and ${P}dst ($DST_IP), bridge in ${P}sw; sizes $sizes; $runs runs + $warmups warm-up; paths $paths"
has_ferry && echo "bench: ferry daemons: $mode${base_jar:+; ferry-base from $base_jar}; image-proxy JVM: ${proxy_opts[*]}${base_jar:+ (ferry-base: ${base_proxy_opts[*]})}"
cpu_snapshot a; sleep 2; cpu_snapshot b
echo "bench: load before: loadavg $(cut -d' ' -f1-3 /proc/loadavg); over 2 s: $(cpu_delta a b)"
daemons_json=""
IFS=, read -r -a size_list <<< "$sizes"
for size in "${size_list[@]}"; do
  if [[ "$size" == *M ]]; then mib=${size%M}; else mib=$(( size * 1024 )); fi
  need=$(( (mib * 5 / 2 + 2048) / 1024 ))
  has_path ferry-base && need=$(( (mib * 7 / 2 + 2560) / 1024 ))   # a second cache may keep a snapshot's memory
  avail=$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)
  if [ "$avail" -lt "$need" ]; then
    echo "bench: skipping $size: $avail GiB available, about $need GiB needed" >&2
    continue
  fi
  echo "== $mib MiB"
  for v in ferry ferry-base; do if has_path "$v"; then start_daemons "${mib}m" "$v"; fi; done
  load0=$(cut -d' ' -f1 /proc/loadavg); cpu_snapshot "s$mib"
  declare -A p0=() c0=() pf0=() cf0=()
  for ((r = 1 - warmups; r <= runs; r++)); do   # runs numbered <= 0 are warm-ups
    warm=false; [ "$r" -le 0 ] && warm=true
    if [ "$r" -le 0 ]; then echo " warm-up (not counted)"; else echo " run $r"; fi
    if [ "$r" = 1 ]; then
      for v in "${!proxy_of[@]}"; do
        p0[$v]=$(cpu_ticks "${proxy_of[$v]}"); c0[$v]=$(cpu_ticks "${cache_of[$v]}")
        pf0[$v]=$(min_faults "${proxy_of[$v]}"); cf0[$v]=$(min_faults "${cache_of[$v]}")
      done
    fi
    # A/B: ferry and ferry-base swap places every run, so neither always follows the other
    ab=(ferry ferry-base); (( r % 2 == 0 )) && ab=(ferry-base ferry)
    for v in "${ab[@]}"; do if has_path "$v"; then path_ferry "$mib" "$r" "$warm" "$v"; fi; done
    if has_path raw; then path_raw "$mib" "$r" "$warm"; fi
    if has_path rawtls; then path_raw "$mib" "$r" "$warm" tls; fi
    if has_path disk; then path_disk "$mib" "$r" "$warm"; fi
    if has_path pageserver; then path_pageserver "$mib" "$r" "$warm"; fi
    if has_path nullstream; then path_nullstream "$mib" "$r" "$warm"; fi
  done
  cpu_snapshot "e$mib"
  load="loadavg(1m) $load0 -> $(cut -d' ' -f1 /proc/loadavg); during the runs: $(cpu_delta "s$mib" "e$mib")"
  echo " load: $load"
  d="\"load\":\"$load\""
  if has_path ferry; then d="$(daemon_figures ferry "$last_bytes"),$d"; fi            # the targets read these
  if has_path ferry-base; then d="\"base\":{$(daemon_figures ferry-base "$base_bytes")},$d"; fi
  stop_daemons
  daemons_json=${daemons_json:+$daemons_json,}"\"$mib\":{$d}"
done

cat > "$work/meta.json" <<EOF
{"started":"$stamp","runs":$runs,"warmups":$warmups,"sizes":"$sizes","paths":"$paths",
 "machine":{"cpus":$(nproc),"mem_gib":$(awk '/^MemTotal:/ {print int($2 / 1048576)}' /proc/meminfo),"kernel":"$(uname -r)",
  "thp":"$(cat /sys/kernel/mm/transparent_hugepage/enabled)","criu":"$("$criu" --version | awk '/Version/ {print $2}')",
  "java":"$(java -version 2>&1 | head -1 | tr -d '"')","socat":"$(socat -V | awk '/socat version/ {print $3}')",
  "ferry_commit":"$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)","jfr":$jfr},
 "tls":$([ "$tls" = 1 ] && echo true || echo false),"jar":$(json_str "$jar"),"jar_sha256":"$(jar_id "$jar")",
 "baseline_jar":$([ -n "$base_jar" ] && json_str "$base_jar" || echo null),"baseline_jar_sha256":$([ -n "$base_jar" ] && echo "\"$(jar_id "$base_jar")\"" || echo null),
 "daemons":{$daemons_json}}
EOF
cp "$runs_file" "$results/migrate-$stamp.runs.jsonl"
"$py" "$report" report "$runs_file" "$work/meta.json" "$results/migrate-$stamp.json" "$results/migrate-$stamp.svg"
