#!/usr/bin/env bash
# Downtime of a live TCP migration as its client sees it (issue 3): the longest gap between two consecutive
# replies of a client doing one request every 10 ms on one connection, while the server moves from node src to
# node dst with its address (VIP) and its established connection. Side by side in one run, per workload:
#   ferry (TLS):      `ferry migrate --tcp-established --move-ip VIP/32` through image-proxy (src) → image-cache
#                     (dst) with mutual TLS
#   ferry (insecure): the same through a second daemon pair started with --insecure (plain TCP)
#   ferry --lazy (TLS): the same as ferry (TLS) with --lazy (post-copy: the tree runs on dst before its pages
#                     crossed; they follow over the link); fs.pipe-max-size is raised to 4 MiB for the run (restored)
#   hand-run CRIU:    the field notes' §2.3 sequence with images on tmpfs: criu dump --tcp-established
#                     --network-lock nftables in src → VIP added quietly on dst → criu restore -d in dst → VIP
#                     deleted on src, gratuitous ARP from dst, CRIU's nft table deleted in src
# Workloads, each fresh per run in its own PID namespace: the counter server (it-tests' counter_server.py, client
# counter_client.py) and redis-server holding ~200 MB (DEBUG POPULATE 200000 key 1000, client redis_incr.py).
# Checks per run: no ERROR line, no counter discontinuity, the restored process is in dst and the source one gone,
# no CRIU lock left in src, and for redis the data set's digest unchanged.
# Run 0 of every case is a warm-up (the daemons' JVMs compile on their first migration) and is not counted.
# Prints medians per case, the ratios ferry/hand-run against the goal <= 1.3, ferry's own `frozen` ms, and writes
# JSON to bench/results/downtime-<timestamp>.json. Root only. Usage: bench/downtime.sh [--runs N] (default 5)
# Nodes are network namespaces fdown-{sw,src,dst,cli} (10.231.50.0/24, the bridge in fdown-sw), entered with
# nsenter --net=; everything started here is ended by PID, and the namespaces, tmpfs dirs and nft tables are
# removed on exit. FERRY_DOWNTIME_KEEP=1 keeps the work dir (daemon logs, CRIU logs, client logs) for reading.
set -euo pipefail
runs=5
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?--runs needs a number}; shift 2;;
    --runs=*) runs=${1#--runs=}; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "downtime: unknown argument '$1' (usage: bench/downtime.sh [--runs N])" >&2; exit 2;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "downtime: --runs $runs (expected: a number >= 1)" >&2; exit 2; }
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar=$repo/cli/target/ferry.jar
criu=$repo/.criu/bin/criu
wl_dir=$repo/it-tests/src/test/resources/workloads
[ "$(id -u)" = 0 ] || { echo "downtime: run as root" >&2; exit 1; }
[ -x "$criu" ] || "$repo/scripts/install-criu"
for tool in redis-server redis-cli arping nft python3 nsenter unshare; do
  command -v "$tool" >/dev/null || { echo "downtime: $tool is missing (run scripts/install-criu)" >&2; exit 1; }
done
[ -f "$jar" ] || (cd "$repo" && mvn -B -q -o package -DskipTests -pl cli -am)
# shellcheck source=scripts/jvm-options
. "$repo/scripts/jvm-options"   # the flags ./ferry starts every command with
java_daemon=(java "${FERRY_JVM_OPTIONS[@]}" -jar "$jar")
java_proxy=(java "${FERRY_JVM_OPTIONS[@]}" "${FERRY_PROXY_JVM_OPTIONS[@]}" -jar "$jar")
java_client=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$jar")          # as the it-tests start clients

P=fdown-; SUB=10.231.50; VIP=$SUB.100; SRC_IP=$SUB.1; DST_IP=$SUB.2; CLI_IP=$SUB.10
NS_SW=${P}sw; NS_SRC=${P}src; NS_DST=${P}dst; NS_CLI=${P}cli
PORT_TLS=27150; PORT_PLAIN=27151; COUNTER_PORT=7000; REDIS_PORT=6379
nsn() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }
# for background jobs: a simple command, so that $! is nsenter, which execs the command (a function would be a subshell)
in_src=(nsenter --net=/run/netns/$NS_SRC); in_dst=(nsenter --net=/run/netns/$NS_DST); in_cli=(nsenter --net=/run/netns/$NS_CLI)

alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# One run at a time (the namespaces have fixed names). A directory, not flock: a lock fd would be inherited by the
# workloads, and CRIU would have to dump it.
lock=/run/ferry-downtime.lock
if ! mkdir "$lock" 2>/dev/null; then
  other=$(cat "$lock/pid" 2>/dev/null || true)
  alive "$other" && { echo "downtime: another bench/downtime.sh (pid $other) is running" >&2; exit 1; }
  rm -rf "$lock"; mkdir "$lock"
fi
echo $$ > "$lock/pid"
work=$(mktemp -d /tmp/ferry-downtime.XXXX)
shm=$(mktemp -d /dev/shm/ferry-downtime.XXXX)
declare -A started=()   # pid -> start time (jiffies): everything started here, ended by PID (only if still the same process)
daemons=()              # the four daemon JVMs: TERM first, so they stop cleanly
declare -A daemon_pid=()  # tls-cache, tls-proxy, plain-cache, plain-proxy
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
track() { local t; [[ $1 =~ ^[0-9]+$ ]] || return 0; t=$(starttime "$1"); [ -n "$t" ] && started[$1]=$t; return 0; }
kill_own() {  # kill_own SIGNAL PID: only a process this script started, never a later one that reuses its PID
  [[ $2 =~ ^[0-9]+$ ]] || return 0
  [ -n "${started[$2]:-}" ] && [ "$(starttime "$2")" = "${started[$2]}" ] && kill "-$1" "$2" 2>/dev/null
  return 0
}
del_lock_tables() {  # CRIU's per-connection lock tables (inet CRIU-<id>) in a node
  local tb
  for tb in $(nsn "$1" nft list tables 2>/dev/null | awk '/CRIU-/ {print $3}'); do
    nsn "$1" nft delete table inet "$tb" 2>/dev/null || true
  done
}
netns_down() { local ns; for ns in $NS_SRC $NS_DST $NS_CLI $NS_SW; do ip netns del "$ns" 2>/dev/null || true; done; }
pipe_max_before=""   # set while this run has raised fs.pipe-max-size for --lazy
cleanup() {
  local rc=$? p
  set +e   # clean up as much as possible, whatever fails
  trap - EXIT INT TERM
  for p in "${!started[@]}"; do [[ " ${daemons[*]} " = *" $p "* ]] || kill_own KILL "$p"; done
  for p in "${daemons[@]}"; do kill_own TERM "$p"; done
  for _ in $(seq 100); do
    local up=0; for p in "${daemons[@]}"; do alive "$p" && up=1; done
    [ $up = 0 ] && break; sleep 0.1
  done
  for p in "${daemons[@]}"; do kill_own KILL "$p"; done
  [ -e /run/netns/$NS_SRC ] && del_lock_tables $NS_SRC
  [ -e /run/netns/$NS_DST ] && del_lock_tables $NS_DST
  netns_down
  [ -n "$pipe_max_before" ] && echo "$pipe_max_before" > /proc/sys/fs/pipe-max-size
  rm -rf "$shm" "$lock"
  if [ "${FERRY_DOWNTIME_KEEP:-0}" = 1 ]; then echo "downtime: kept $work" >&2; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "downtime: $*" >&2; exit 1; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b - a) * 1000}'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
tck=$(getconf CLK_TCK)
cpu_ms() {  # cpu_ms PID: CPU time (user + system) of PID and its reaped children, in ms
  sed 's/.*) //' "/proc/$1/stat" | awk -v t="$tck" '{printf "%d", ($12 + $13 + $14 + $15) * 1000 / t}'
}

# ---- topology: a bridge in its own namespace, nodes src (10.231.50.1), dst (.2), cli (.10); VIP .100 on src
net_up() {
  netns_down   # leftovers of an earlier run of this script (the lock above says none is running)
  ip netns add $NS_SW
  nsn $NS_SW ip link add br0 type bridge
  nsn $NS_SW ip link set br0 up
  nsn $NS_SW ip link set lo up
  local n ns ip
  for n in src:$SRC_IP dst:$DST_IP cli:$CLI_IP; do
    ns=${P}${n%%:*}; ip=${n#*:}
    ip netns add "$ns"
    ip link add eth0 netns "$ns" type veth peer name "p-${n%%:*}" netns $NS_SW
    nsn $NS_SW ip link set "p-${n%%:*}" master br0 up
    nsn "$ns" ip link set lo up
    nsn "$ns" ip addr add "$ip/24" dev eth0
    nsn "$ns" ip link set eth0 up
  done
  nsn $NS_SRC ip addr add $VIP/32 dev eth0
  for _ in $(seq 50); do nsn $NS_CLI arping -q -c 1 -w 1 -I eth0 $VIP </dev/null >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "the client node cannot reach $VIP"
}
# Reference: how long the redis images' bytes (~230 MB) take from src to dst over the veth at all (socat, 1 MiB
# buffers): the hand-run baseline keeps its images on this machine's tmpfs and crosses no network, ferry must.
IMAGE_BYTES=229770000
veth_floor() {  # → median ms of 3 transfers
  local t=() i l s e
  for i in 1 2 3; do
    "${in_dst[@]}" socat -u -b 1048576 TCP-LISTEN:9999,reuseaddr OPEN:/dev/null </dev/null >/dev/null 2>&1 &
    l=$!; track "$l"
    for _ in $(seq 100); do nsn $NS_DST ss -Hltn "sport = :9999" | grep -q . && break; sleep 0.02; done
    s=$(now)
    head -c $IMAGE_BYTES /dev/zero | nsn $NS_SRC socat -u -b 1048576 - TCP:$DST_IP:9999 || die "socat src → dst failed"
    for _ in $(seq 500); do alive "$l" || break; sleep 0.02; done
    e=$(now); t+=("$(ms "$s" "$e")")
    alive "$l" && die "socat in dst did not end after the transfer"
    wait "$l" 2>/dev/null || true
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}
has_vip() { nsn "$1" ip -o -4 addr show to $VIP/32 | grep -q .; }
vip_home() {  # the service address back on src only, and the client's ARP entry for it forgotten
  nsn $NS_DST ip addr del $VIP/32 dev eth0 2>/dev/null || true
  has_vip $NS_SRC || nsn $NS_SRC ip addr add $VIP/32 dev eth0
  nsn $NS_CLI ip neigh flush dev eth0
}
netns_inode() { stat -L -c %i "/run/netns/$1"; }
in_node() { [ "$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null)" = "$(netns_inode "$2")" ]; }

# ---- daemons: one pair with mutual TLS, one with --insecure, each with its own run dirs and port
wait_ready() {  # wait_ready PID OUTFILE NAME
  for _ in $(seq 600); do
    grep -q '^ready' "$2" 2>/dev/null && return 0
    alive "$1" || die "$3 exited before it was ready; log: $(dirname "$2")"
    sleep 0.05
  done
  die "$3 printed no ready line within 30 s; log: $(dirname "$2")"
}
start_pair() {  # start_pair tls|plain
  local pair=$1 port opts_dst opts_src
  mkdir -p -m 700 "$work/$pair/dst" "$work/$pair/src"
  if [ "$pair" = tls ]; then
    port=$PORT_TLS
    opts_dst=(--tls-allow source --tls-cert "$work/pki/target.pem" --tls-key "$work/pki/target-key.pem" --tls-ca "$work/pki/ca.pem")
    opts_src=(--tls-cert "$work/pki/source.pem" --tls-key "$work/pki/source-key.pem" --tls-ca "$work/pki/ca.pem")
  else
    port=$PORT_PLAIN; opts_dst=(--insecure); opts_src=(--insecure)
  fi
  "${in_dst[@]}" "${java_daemon[@]}" image-cache --listen $DST_IP --port $port --run-dir "$work/$pair/dst" --criu "$criu" \
    "${opts_dst[@]}" </dev/null >"$work/$pair/dst/cache.out" 2>"$work/$pair/dst/cache.log" &
  disown; daemons+=("$!"); daemon_pid[$pair-cache]=$!; track "$!"; wait_ready "$!" "$work/$pair/dst/cache.out" "image-cache ($pair)"
  "${in_src[@]}" "${java_proxy[@]}" image-proxy --address $DST_IP --port $port --run-dir "$work/$pair/src" --criu "$criu" \
    "${opts_src[@]}" </dev/null >"$work/$pair/src/proxy.out" 2>"$work/$pair/src/proxy.log" &
  disown; daemons+=("$!"); daemon_pid[$pair-proxy]=$!; track "$!"; wait_ready "$!" "$work/$pair/src/proxy.out" "image-proxy ($pair)"
}
make_pki() {
  { "${java_client[@]}" certs init "$work/pki" && "${java_client[@]}" certs issue target --dir "$work/pki" --san $DST_IP \
      && "${java_client[@]}" certs issue source --dir "$work/pki"; } >"$work/certs.log" 2>&1 || die "ferry certs failed: $work/certs.log"
}

# ---- workloads: fresh per run, in their own PID namespace on src; the client on cli
server=""; client=""
start_server() {  # start_server counter|redis → $server (the namespace's init, as the host sees it)
  local up child="" cmd
  if [ "$1" = counter ]; then
    cmd=(/usr/bin/python3 "$wl_dir/counter_server.py" $VIP $COUNTER_PORT)
  else
    mkdir -p "$work/redis"
    cmd=(/usr/bin/redis-server --bind $VIP --port $REDIS_PORT --save '' --appendonly no --protected-mode no
         --enable-debug-command yes --dir "$work/redis" --daemonize no --logfile '')
  fi
  "${in_src[@]}" setsid unshare -pf setsid "${cmd[@]}" </dev/null >/dev/null 2>&1 &
  up=$!; disown; track "$up"   # unshare; its child is the new PID namespace's init, the process to migrate
  for _ in $(seq 200); do
    child=$(awk '{print $1}' "/proc/$up/task/$up/children" 2>/dev/null || true)
    [ -n "$child" ] && [ "$(awk '/^NSpid/ {print $NF}' "/proc/$child/status" 2>/dev/null)" = 1 ] && break
    child=""; sleep 0.02
  done
  [ -n "$child" ] || die "$1 server did not start"
  track "$child"; server=$child
  local port=$COUNTER_PORT; [ "$1" = redis ] && port=$REDIS_PORT
  for _ in $(seq 300); do nsn $NS_SRC ss -Hltn "sport = :$port" | grep -q . && return 0; sleep 0.05; done
  die "$1 server does not listen on $VIP:$port"
}
rcli() { nsn $NS_CLI redis-cli -h $VIP -p $REDIS_PORT "$@"; }
prepare_redis() {  # → digest of the populated data set
  rcli DEBUG POPULATE 200000 key 1000 >/dev/null
  local rss; rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  [ "$rss" -gt 190000 ] || die "redis holds only $rss KiB after DEBUG POPULATE"
  rcli DEBUG DIGEST
}
start_client() {  # start_client counter|redis LOG
  local script=counter_client.py port=$COUNTER_PORT
  [ "$1" = redis ] && { script=redis_incr.py; port=$REDIS_PORT; }
  "${in_cli[@]}" /usr/bin/python3 "$wl_dir/$script" $VIP $port 0.01 "$2" 120 </dev/null >/dev/null 2>&1 &
  client=$!; disown; track "$client"
}
last_n() { awk '$1 == "ok" {n = $2} END {print n + 0}' "$1" 2>/dev/null || echo 0; }
await_n() {  # await_n LOG N SECONDS: false if fewer replies came, or the client logged an error
  local i
  for i in $(seq $(($3 * 20))); do
    [ "$(last_n "$1")" -ge "$2" ] && return 0
    grep -q '^ERROR' "$1" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}
end_pid() {  # SIGKILL and wait until it is gone (or a zombie)
  kill_own KILL "$1"
  for _ in $(seq 100); do alive "$1" || return 0; sleep 0.02; done
}

# CRIU's own figures from its stats-dump / stats-restore file (protobuf stats_entry; times in µs):
# "dump FREEZING FROZEN MEMDUMP MEMWRITE PAGES" or "restore RESTORE_TIME PAGES"
cat > "$work/criu-stats.py" <<'PY'
import sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return v, i
def fields(b):
    i, out = 0, {}
    while i < len(b):
        k, i = varint(b, i)
        if k & 7 == 0:
            v, i = varint(b, i)
        elif k & 7 == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        else:
            raise ValueError("wire type %d" % (k & 7))
        out[k >> 3] = v
    return out
b = open(sys.argv[1], "rb").read()
top = fields(b[12:12 + int.from_bytes(b[8:12], "little")])   # magic, magic, size, stats_entry
if 1 in top:
    d = fields(top[1]); print("dump", *(d.get(k, 0) // 1000 for k in (1, 2, 3, 4)), d.get(7, 0))
if 2 in top:
    r = fields(top[2]); print("restore", r.get(4, 0) // 1000, r.get(5, 0))
PY
criu_stats() { [ -f "$1" ] && python3 "$work/criu-stats.py" "$1" 2>/dev/null || true; }
timed() {  # timed FILE CMD...: runs CMD in a subshell of its own and writes its children's CPU ms (user+sys) to FILE
  local f=$1; shift
  ( "$@"; rc=$?; times > "$f"; exit $rc )   # (not `times | ...`: a pipeline runs it in yet another subshell)
}
cpu_of_times() {  # the children's line of `times` ("0m0.120s 0m0.040s") → ms
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } } END { printf "%d", t * 1000 }' "$1"
}
# The client's log → "GAP OUTAGE REPLIES ERRORS DISCONTINUITIES GAP_AT": GAP is the longest gap between two consecutive
# replies (the downtime); OUTAGE adds up every gap > 50 ms (5 intervals) that ends in [FROM, TO]: a migration can cost
# two gaps in a row (e.g. the queued request answered after the restore, then the next one lost to the lock and
# retransmitted after the client's 200 ms RTO)
read_client_log() {  # read_client_log LOG FROM TO
  awk -v from="$2" -v to="$3" '
    $1 == "ok" { if (n > 0) { d = $4 - t; if (d > g) { g = d; at = n }; if (d > 0.05 && $4 >= from && $4 <= to) o += d }
                 if ($2 != n + 1 || $3 != $2) bad++
                 n = $2; t = $4; k++ }
    $1 == "ERROR" { err++ }
    END { printf "%d %d %d %d %d %d\n", g * 1000 + 0.5, o * 1000 + 0.5, k, err + 0, bad + 0, at + 0 }' "$1"
}

# ---- one measured (or warm-up) migration of one workload by one method
cols=(run workload case gap_ms outage_ms frozen_ms preflight_ms dump_ms restore_ms handover_ms
      criu_freezing_ms criu_frozen_ms criu_memdump_ms criu_memwrite_ms criu_pages criu_seized_to_postdump_ms
      commit_ms criu_restore_ms cpu_src_ms cpu_dst_ms replies errors discontinuities gap_after_n checks load1)
(IFS=$'\t'; echo "${cols[*]}") > "$work/runs.tsv"
migrate_one() {  # migrate_one RUN WORKLOAD CASE   (CASE: tls | plain | lazy | criu)
  local r=$1 wl=$2 cs=$3 tag="$1-$2-$3" digest="" restored="" problems=""
  local frozen=- pre=- dump=- rest=- hand=- cpu_src=- cpu_dst=- s2p=- commit=- stats_d="" stats_r="" tstart tend
  local log="$work/client-$tag.log"
  vip_home
  start_server "$wl"
  if [ "$wl" = redis ]; then digest=$(prepare_redis) || die "$tag: redis did not come up"; fi
  start_client "$wl" "$log"
  await_n "$log" 50 15 || die "$tag: the client got $(last_n "$log") replies before the migration: $(grep -m1 ERROR "$log" || true)"
  local l1; l1=$(load1)
  if [ "$cs" = criu ]; then   # the field notes' §2.3, images on tmpfs
    local img="$shm/$tag" t0 t1 t2 t3 t4
    mkdir "$img"
    t0=$(now)
    timed "$img/d.times" nsn $NS_SRC "$criu" dump -t "$server" -D "$img" -o dump.log --tcp-established --network-lock nftables \
      || die "$tag: criu dump failed: $(tail -3 "$img/dump.log")"
    t1=$(now)
    nsn $NS_DST ip addr add $VIP/32 dev eth0
    t2=$(now)
    timed "$img/r.times" nsn $NS_DST "$criu" restore -D "$img" -o restore.log -d --tcp-established --pidfile "$img/restored.pid" \
      || die "$tag: criu restore failed: $(tail -3 "$img/restore.log")"
    t3=$(now)
    restored=$(cat "$img/restored.pid"); track "$restored"
    nsn $NS_SRC ip addr del $VIP/32 dev eth0
    "${in_dst[@]}" arping -q -U -c 1 -I eth0 -s $VIP $VIP </dev/null >/dev/null 2>&1 &
    disown; track "$!"
    del_lock_tables $NS_SRC
    t4=$(now)
    dump=$(ms "$t0" "$t1"); rest=$(ms "$t2" "$t3"); hand=$(ms "$t3" "$t4")   # (t1..t2: the quiet VIP add)
    frozen=$(ms "$t0" "$t3")   # from the start of criu dump (ferry counts from CRIU's "Seized task")
    cpu_src=$(cpu_of_times "$img/d.times"); cpu_dst=$(cpu_of_times "$img/r.times")
    stats_d=$(criu_stats "$img/stats-dump"); stats_r=$(criu_stats "$img/stats-restore")
    tstart=$t0; tend=$t4
    rm -rf "$img"
  else
    local pair=$cs lazy=(); [ "$cs" = lazy ] && pair=tls lazy=(--lazy)   # --lazy runs through the TLS pair
    local out="$work/migrate-$tag.out" rd="$work/$pair/src" px cx p0 c0
    px=${daemon_pid[$pair-proxy]}; cx=${daemon_pid[$pair-cache]}
    touch "$work/mark-$tag"; p0=$(cpu_ms "$px"); c0=$(cpu_ms "$cx")
    tstart=$(now)
    nsn $NS_SRC "${java_client[@]}" migrate -t "$server" --tcp-established --move-ip $VIP/32 "${lazy[@]}" --run-dir "$rd" \
      >"$out" 2>&1 || die "$tag: ferry migrate failed: $(cat "$out")"
    tend=$(now)
    restored=$(grep -o 'as pid [0-9]*' "$out" | head -n1 | tr -dc 0-9); track "$restored"
    cpu_src=$(( $(cpu_ms "$px") - p0 )); cpu_dst=$(( $(cpu_ms "$cx") - c0 ))   # daemon JVMs + the CRIUs they reaped
    frozen=$(awk '$1 == "frozen" {print $2}' "$out")
    pre=$(awk '$1 == "preflight" {print $2}' "$out"); dump=$(awk '$1 == "dump" {print $2}' "$out")
    rest=$(awk '$1 == "restore" {print $2}' "$out"); hand=$(awk '$1 == "handover" {print $2}' "$out")
    # CRIU's own stamps in the proxy's dump log: the tree frozen ("Seized task") → pages all written ("post-dump")
    local d; d=$(find "$rd" -name dump.log -newer "$work/mark-$tag" -printf '%T@ %h\n' | sort -n | tail -n1 | cut -d' ' -f2-)
    if [ -n "$d" ]; then
      s2p=$(awk '/Seized task/ && !s { s = substr($1, 2) + 0 } /Running post-dump scripts/ { printf "%d", (substr($1, 2) - s) * 1000; exit }' "$d/dump.log")
      stats_d=$(criu_stats "$d/stats-dump")
    fi
    # the proxy's log: CRIU reached post-dump → the cache reported the snapshot committed (received, verified)
    commit=$(awk -v snap="snapshot migrate-$server-" 'index($0, snap) {
               split($1, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3]
               if ($NF == "post-dump") p = t; if ($NF == "committed" && p) { printf "%d", (t - p) * 1000; exit } }' "$rd/proxy.log")
    d=$(find "$work/$pair/dst" -name restore.log -newer "$work/mark-$tag" -printf '%T@ %h\n' | sort -n | tail -n1 | cut -d' ' -f2-)
    [ -n "$d" ] && stats_r=$(criu_stats "$d/stats-restore")
  fi
  local at; at=$(last_n "$log")
  await_n "$log" $((at + 100)) 20 || problems+=",no-replies-after"
  end_pid "$client"
  # where things are now: the restored tree in dst, nothing of the source left, no lock in src, VIP on dst only
  in_node "$restored" $NS_DST || problems+=",restored-not-in-dst(pid=$restored:$(awk '/^State/ {print $2}' "/proc/$restored/status" 2>/dev/null):$(stat -L -c %i "/proc/$restored/ns/net" 2>/dev/null)/$(netns_inode $NS_DST))"
  alive "$server" && problems+=",source-alive"
  nsn $NS_SRC nft list tables | grep -q CRIU- && problems+=",lock-left-in-src"
  has_vip $NS_SRC && problems+=",vip-on-src"
  has_vip $NS_DST || problems+=",vip-not-on-dst"
  if [ "$wl" = redis ]; then
    rcli DEL ferry:ctr >/dev/null
    [ "$(rcli DEBUG DIGEST)" = "$digest" ] || problems+=",redis-digest-changed"
  fi
  local gap outage k err bad gat checks
  read -r gap outage k err bad gat < <(read_client_log "$log" "$tstart" "$(awk -v t="$tend" 'BEGIN {printf "%.3f", t + 1}')")
  [ "$err" = 0 ] || problems+=",client-error"
  [ "$bad" = 0 ] || problems+=",counter-discontinuity"
  checks=${problems#,}; checks=${checks:-ok}
  end_pid "$restored"; end_pid "$server"
  local sd=(- - - - -) sr=(-); [ -n "$stats_d" ] && read -r _ sd[0] sd[1] sd[2] sd[3] sd[4] <<<"$stats_d"
  [ -n "$stats_r" ] && read -r _ sr[0] _ <<<"$stats_r"
  local row=("$r" "$wl" "$cs" "$gap" "$outage" "$frozen" "$pre" "$dump" "$rest" "$hand" "${sd[@]}" "$s2p" "${commit:--}" "${sr[0]}"
             "$cpu_src" "$cpu_dst" "$k" "$err" "$bad" "$gat" "$checks" "$l1")
  (IFS=$'\t'; echo "${row[*]}") >> "$work/runs.tsv"
  printf '  run %d %-7s %-5s gap %5s ms (outage %5s)  frozen %5s ms  (dump %s, restore %s, handover %s)  %s  load %s\n' \
    "$r" "$wl" "$cs" "$gap" "$outage" "$frozen" "$dump" "$rest" "$hand" "$checks" "$l1"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "downtime: $runs runs (after one warm-up) per workload and case; load at start: $load_start"
net_up
floor_ms=$(veth_floor)
echo "reference: $IMAGE_BYTES bytes src → dst over the veth (socat): $floor_ms ms ($(awk -v b=$IMAGE_BYTES -v t="$floor_ms" 'BEGIN {printf "%.0f", b / t / 1000}') MB/s)"
make_pki
start_pair tls
start_pair plain
pipe_max=$(cat /proc/sys/fs/pipe-max-size)   # --lazy: CRIU's page server needs 4 MiB pipes (docs/migrate.md)
if [ "$pipe_max" -lt 4194304 ]; then pipe_max_before=$pipe_max; echo 4194304 > /proc/sys/fs/pipe-max-size; fi
cases=(tls plain lazy criu)
for r in $(seq 0 "$runs"); do   # run 0 warms up the JVMs, CRIU and memory, and is not counted
  for wl in counter redis; do
    for i in "${!cases[@]}"; do   # rotate the order of the cases from run to run
      migrate_one "$r" "$wl" "${cases[$(((i + r) % ${#cases[@]}))]}"
    done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$repo/bench/results"
ts=$(date -u +%Y%m%dT%H%M%SZ)
python3 - "$work/runs.tsv" "$repo/bench/results/downtime-$ts.json" "$runs" "$load_start" "$load_end" \
  "$(nproc)" "$(uname -r)" "$("$criu" --version | awk '/^Version:/ {print $2}')" "$(git -C "$repo" rev-parse --short HEAD)" \
  "$floor_ms" "$IMAGE_BYTES" <<'PY'
import csv, json, statistics, sys
tsv, out, runs, load_start, load_end, cpus, kernel, criu, commit, floor_ms, image_bytes = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
for r in rows:
    for k in r:
        if k not in ("workload", "case", "checks"):
            r[k] = num(r[k])
measured = [r for r in rows if r["run"] > 0]
names = {"tls": "ferry (TLS)", "plain": "ferry (insecure)", "lazy": "ferry --lazy (TLS)", "criu": "hand-run CRIU"}
keys = ("gap", "outage", "frozen", "preflight", "dump", "restore", "handover", "criu_memdump", "criu_memwrite",
        "criu_seized_to_postdump", "commit", "criu_restore", "cpu_src", "cpu_dst")
def med(wl, cs, key):
    v = [r[key] for r in measured if r["workload"] == wl and r["case"] == cs and r[key] is not None]
    return statistics.median(v) if v else None
f = lambda v: "-" if v is None else "%d" % round(v)
loads = [r["load1"] for r in measured]
summary = {}
for wl in ("counter", "redis"):
    summary[wl] = {}
    for cs in ("tls", "plain", "lazy", "criu"):
        s = {k + "_ms": med(wl, cs, k + "_ms") for k in keys}
        s["gaps_ms"] = [int(r["gap_ms"]) for r in measured if r["workload"] == wl and r["case"] == cs]
        summary[wl][cs] = s
print(f"\nclient-side downtime, medians over {runs} runs (ms); load average (1 min) during the runs "
      f"{min(loads):.1f}-{max(loads):.1f}, median {statistics.median(loads):.1f} on {cpus} CPUs")
print(f"{'workload':8} {'case':18} {'gap':>6} {'outage':>7} {'frozen':>7}  ratio gap  goal <= 1.3   gaps of every run")
for wl in ("counter", "redis"):
    base = summary[wl]["criu"]["gap_ms"]
    for cs in ("tls", "plain", "lazy", "criu"):
        s = summary[wl][cs]
        verdict = ""
        if cs != "criu":
            s["ratio_to_hand_run"] = s["gap_ms"] / base if base else None
            s["goal"] = "PASS" if s["ratio_to_hand_run"] is not None and s["ratio_to_hand_run"] <= 1.3 else "MISS"
            verdict = f"{s['ratio_to_hand_run']:9.2f}  {s['goal']:11}"
        else:
            verdict = f"{'(base)':>9}  {'':11}"
        print(f"{wl:8} {names[cs]:18} {f(s['gap_ms']):>6} {f(s['outage_ms']):>7} {f(s['frozen_ms']):>7}  {verdict}   {s['gaps_ms']}")
print("gap: longest gap between two replies; outage: all gaps > 50 ms around the migration added up;")
print("frozen: ferry's own figure (CRIU's 'Seized task' to the target's report); hand-run: criu dump start to restore end")
print(f"\nwhere the time goes, medians (ms): ferry's phases (hand-run: criu dump, criu restore, VIP/GARP/unlock);")
print("CRIU's own stats: memdump = pages drained while frozen, memwrite = writing them to tmpfs / ferry's stream;")
print("seized->post-dump = CRIU froze the tree .. wrote its last image; commit = post-dump .. the cache verified it;")
print("criu restore = CRIU's restore_time; CPU = user+sys of the daemons and the CRIUs they ran (ferry) or of CRIU")
print(f"{'workload':8} {'case':18} {'dump':>6} {'restore':>8} {'handover':>9} {'memdump':>8} {'memwrite':>9} "
      f"{'seized->post-dump':>18} {'commit':>7} {'criu restore':>13} {'cpu src':>8} {'cpu dst':>8}")
for wl in ("counter", "redis"):
    for cs in ("tls", "plain", "lazy", "criu"):
        s = summary[wl][cs]
        print(f"{wl:8} {names[cs]:18} {f(s['dump_ms']):>6} {f(s['restore_ms']):>8} {f(s['handover_ms']):>9} "
              f"{f(s['criu_memdump_ms']):>8} {f(s['criu_memwrite_ms']):>9} {f(s['criu_seized_to_postdump_ms']):>18} {f(s['commit_ms']):>7} "
              f"{f(s['criu_restore_ms']):>13} {f(s['cpu_src_ms']):>8} {f(s['cpu_dst_ms']):>8}")
print(f"reference: {int(image_bytes) / 1e6:.0f} MB (the redis images) cross the veth src -> dst with socat in {floor_ms} ms "
      f"({int(image_bytes) / int(floor_ms) / 1000:.0f} MB/s); the hand-run keeps its images on this machine's tmpfs")
bad = [r for r in rows if r["checks"] != "ok"]
for r in bad:
    print(f"CHECK FAILED: run {int(r['run'])} {r['workload']} {r['case']}: {r['checks']}")
json.dump({"benchmark": "downtime", "goal_ratio": 1.3, "runs": int(runs), "warmup_runs": 1, "cpus": int(cpus),
           "kernel": kernel, "criu": criu, "commit": commit, "load_start": load_start, "load_end": load_end,
           "load1_during_runs": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
           "veth_transfer_ms": {"bytes": int(image_bytes), "ms": int(floor_ms)},
           "summary": summary, "per_run": rows, "checks_failed": len(bad)}, open(out, "w"), indent=1)
print(f"\nresults: {out}")
sys.exit(1 if bad else 0)
PY
