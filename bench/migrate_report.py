#!/usr/bin/python3
"""Helper of bench/migrate.sh: reads CRIU's stats files, turns the per-run records into medians,
ratios against the targets, a JSON file, a text table and an SVG chart. Standard library only.

  migrate_report.py stats FILE          -> "freezing_us frozen_us memdump_us memwrite_us pages_written"
  migrate_report.py cpu-snapshot OUT ROOT_PID    per-process CPU ticks of everything not descending from ROOT_PID
  migrate_report.py cpu-delta A B                -> one line: machine busy %, others' CPU between two snapshots
  migrate_report.py tasks-snapshot OUT PID...    per-thread CPU ticks of PIDs (and their reaped children)
  migrate_report.py tasks-delta A B [NAME=PID]... -> CPU seconds per thread between two snapshots
  migrate_report.py tasks-total A B PID          -> CPU ms of PID (threads + reaped children) between them
  migrate_report.py report RUNS META OUT_JSON OUT_SVG
      RUNS: one JSON object per line (one per path, size and run; see migrate.sh)
      META: one JSON object (machine, TLS mode, jars, load, daemon figures per size; those of the
            ferry-base daemons, with --baseline-jar, under "base")
"""
import json
import os
import statistics
import struct
import sys

MIB = 1 << 20
GIB = 1 << 30
GB = 10 ** 9

# (key, label, compare(value, limit) -> ok, limit text). Values are computed in ratios() below.
TARGETS = [
    ("dump_vs_raw", "ferry dump / raw socat, same bytes", 1.2),
    ("dump_vs_pageserver", "ferry dump / page-server dump", 0.75),
    ("e2e_vs_disk", "ferry e2e / CRIU disk path e2e", 0.75),
    ("proxy_rss_mib", "proxy peak RSS (MiB)", None),     # limit 256 MiB
    ("cache_rss_excess", "cache peak RSS / (1.1 x bytes + 128 MiB)", 1.0),
    ("proxy_cpu_per_gb", "proxy CPU-s per GB", 0.5),
    ("cache_cpu_per_gb", "cache CPU-s per GB", 1.5),
]
PROXY_RSS_LIMIT_MIB = 256
# What CRIU alone costs (the nullstream path), next to the targets; informational, no verdict
FLOOR = [
    ("floor_vs_raw", "null-streamer dump / raw socat (the floor)"),
    ("dump_vs_floor", "ferry dump / null-streamer dump"),
    ("rawtls_vs_raw", "raw TLS socat / raw socat (user-space TLS in C)"),
    ("dump_vs_rawtls", "ferry dump / raw TLS socat, same bytes"),
]
# A/B of two ferry builds (--baseline-jar): ferry / ferry-base, medians; informational, no verdict
AB = [
    ("dump", "dump_ms", "ferry dump / ferry-base dump"),
    ("restore", "restore_ms", "ferry restore / ferry-base restore"),
    ("e2e", "e2e_ms", "ferry e2e / ferry-base e2e"),
]


def path_labels(meta):
    """The report's names of the ferry paths: they say whether the daemons ran mutual TLS or --insecure."""
    mode = "TLS" if meta.get("tls", False) else "insecure"
    return {"ferry": "ferry (%s)" % mode, "ferry-base": "ferry-base (%s)" % mode}


def varint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def proto_fields(buf):
    """Top-level fields of a protobuf message: {number: value} (varints as int, bytes as bytes)."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError("protobuf wire type %d" % wire)
        fields[number] = value
    return fields


def read_stats(path):
    """CRIU's stats-dump: u32 service magic, u32 STATS magic, u32 size, stats_entry { dump_stats_entry dump = 1 }.
    dump_stats_entry: freezing_time=1, frozen_time=2, memdump_time=3, memwrite_time=4 (microseconds),
    pages_written=7 (criu/images/stats.proto)."""
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack_from("<I", data, 8)
    entry = proto_fields(data[12:12 + size])
    dump = proto_fields(entry.get(1, b""))
    return [dump.get(n, 0) for n in (1, 2, 3, 4, 7)]


def label_of(mib):
    return "%d GiB" % (mib // 1024) if mib % 1024 == 0 else "%d MiB" % mib


def cpu_snapshot(path, root):
    """Machine CPU ticks from /proc/stat and per-process ticks (utime+stime) of every process that does not
    descend from ROOT (the benchmark), so that the load of others can be told apart from ours."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:8]]
    procs, parent = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        parent[int(pid)] = int(fields[1])
        procs[int(pid)] = (comm, int(fields[11]) + int(fields[12]), fields[19])
    ours = set()
    for pid in procs:
        p, seen = pid, 0
        while p > 1 and seen < 64:
            if p == root:
                ours.add(pid)
                break
            p, seen = parent.get(p, 0), seen + 1
    snap = {"busy": cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6], "total": sum(cpu),
            "procs": {"%d:%s" % (pid, v[2]): [v[0], v[1]] for pid, v in procs.items() if pid not in ours}}
    with open(path, "w") as f:
        json.dump(snap, f)


def cpu_delta(a_path, b_path):
    """One line: how busy the machine was between two snapshots, and how much of it others used."""
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    ncpu = os.cpu_count() or 1
    total = max(1, b["total"] - a["total"])
    busy = 100.0 * (b["busy"] - a["busy"]) / total
    per_comm = {}
    for key, (comm, ticks) in b["procs"].items():
        # born in between: all its ticks are from the interval; those that died in between are missed
        per_comm[comm] = per_comm.get(comm, 0) + ticks - (a["procs"][key][1] if key in a["procs"] else 0)
    others = sum(per_comm.values())
    top = sorted(per_comm.items(), key=lambda kv: -kv[1])[:3]
    # total counts ticks of all CPUs; a process's ticks are in the same unit (USER_HZ)
    share = lambda t: 100.0 * t * ncpu / total
    return ("machine %.0f%% busy (100%% = all %d CPUs); other processes (alive at the end) %.0f%% of one CPU%s" % (
        busy, ncpu, share(others), (": " + ", ".join("%s %.0f%%" % (c, share(t)) for c, t in top if t > 0)) if others else ""))


def tasks_snapshot(path, pids):
    """Per-thread CPU ticks of the given processes, plus what their reaped children used (cutime+cstime:
    for the image-proxy that is CRIU's dump, for the image-cache CRIU's restore)."""
    snap = {}
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        snap["%d children (criu)" % pid] = int(fields[13]) + int(fields[14])
        snap["%d process" % pid] = int(fields[11]) + int(fields[12])   # includes threads that have exited
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    raw = f.read()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            snap["%d %s %s" % (pid, tid, comm)] = int(fields[11]) + int(fields[12])
    with open(path, "w") as f:
        json.dump(snap, f)


def tasks_delta(a_path, b_path, names):
    """CPU seconds per thread between two snapshots, busiest first; names maps pid -> daemon name."""
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    hz = os.sysconf("SC_CLK_TCK")
    rows = sorted(((v - a.get(k, 0)) / hz, k) for k, v in b.items())
    process, live, criu = {}, {}, {}
    for sec, key in rows:
        pid, rest = key.split(" ", 1)
        if rest == "process":
            process[pid] = sec
        elif rest == "children (criu)":
            criu[pid] = sec
        else:
            live[pid] = live.get(pid, 0) + sec
    out = []
    for pid in sorted(process):
        out.append("%-6s %7.2f s CPU: its threads %.2f s (of which threads that have exited since, e.g. drain/serve: %.2f s),"
                   " CRIU it ran %.2f s" % (names.get(pid, pid), process[pid] + criu.get(pid, 0), process[pid],
                                            process[pid] - live.get(pid, 0), criu.get(pid, 0)))
    for sec, key in reversed(rows):
        if sec >= 0.01 and not key.endswith(" process"):
            parts = key.split(" ", 2)
            out.append("%-6s %7.2f s  %s" % (names.get(parts[0], parts[0]), sec, parts[-1] if len(parts) == 3 else parts[1]))
    return "\n".join(out)


def tasks_total_ms(a_path, b_path, pid):
    """CPU milliseconds of process PID between two snapshots: all its threads (exited ones too) and the
    children it reaped (CRIU)."""
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    keys = ("%s process" % pid, "%s children (criu)" % pid)
    ticks = sum(b.get(k, 0) - a.get(k, 0) for k in keys)
    return int(ticks * 1000 / os.sysconf("SC_CLK_TCK"))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def aggregate(records, meta):
    """{size: {path: {field: median}}} plus per-size daemon figures and ratios."""
    sizes = sorted({r["size_mib"] for r in records} | {int(k) for k in meta.get("daemons", {})})
    out = {}
    for size in sizes:
        per_path = {}
        for path in sorted({r["path"] for r in records if r["size_mib"] == size}):
            runs = [r for r in records if r["size_mib"] == size and r["path"] == path and not r.get("warmup")]
            fields = sorted({k for r in runs for k, v in r.items()
                             if isinstance(v, (int, float)) and k not in ("size_mib", "run", "tls")})
            per_path[path] = {"runs": len(runs), "median": {k: median([r.get(k) for r in runs]) for k in fields},
                              "values": {k: [r.get(k) for r in runs] for k in fields}}
        daemons = meta.get("daemons", {}).get(str(size), {})
        entry = {"paths": per_path, "daemons": daemons}
        entry["ratios"] = ratios(per_path, daemons)
        if "ferry-base" in per_path or "base" in daemons:
            entry["ab"] = ab_ratios(per_path, daemons.get("base", {}))
        out[size] = entry
    return out


def ratios(p, d):
    def m(path, field):
        return p.get(path, {}).get("median", {}).get(field)

    def div(a, b):
        return a / b if a is not None and b else None

    res = {}
    res["dump_vs_raw"] = div(m("ferry", "dump_ms"), m("raw", "raw_ms"))
    res["dump_vs_pageserver"] = div(m("ferry", "dump_ms"), m("pageserver", "dump_ms"))
    res["e2e_vs_disk"] = div(m("ferry", "e2e_ms"), m("disk", "e2e_ms"))
    bytes_ = m("ferry", "bytes")
    if d.get("proxy_hwm_kib") is not None:
        res["proxy_rss_mib"] = d["proxy_hwm_kib"] / 1024
    if d.get("cache_hwm_kib") is not None and bytes_:
        res["cache_rss_excess"] = d["cache_hwm_kib"] * 1024 / (1.1 * bytes_ + 128 * MIB)
    moved = d.get("gb_moved")
    if moved:
        if d.get("proxy_cpu_s") is not None:
            res["proxy_cpu_per_gb"] = d["proxy_cpu_s"] / moved
        if d.get("cache_cpu_s") is not None:
            res["cache_cpu_per_gb"] = d["cache_cpu_s"] / moved
    verdicts = {}
    for key, _, limit in TARGETS:
        v = res.get(key)
        lim = PROXY_RSS_LIMIT_MIB if key == "proxy_rss_mib" else limit
        verdicts[key] = None if v is None else ("PASS" if v <= lim else "MISS")
    floor = {"floor_vs_raw": div(m("nullstream", "dump_ms"), m("raw", "raw_ms")),
             "dump_vs_floor": div(m("ferry", "dump_ms"), m("nullstream", "dump_ms")),
             "rawtls_vs_raw": div(m("rawtls", "raw_ms"), m("raw", "raw_ms")),
             "dump_vs_rawtls": div(m("ferry", "dump_ms"), m("rawtls", "raw_ms"))}
    return {"values": res, "verdicts": verdicts, "floor": floor}


def ab_ratios(p, base_daemons):
    """ferry / ferry-base of the medians in AB, and the ferry-base daemons' CPU-s per GB (no verdicts)."""
    def m(path, field):
        return p.get(path, {}).get("median", {}).get(field)

    res = {"values": {}, "base_daemons": {}}
    for key, field, _ in AB:
        a, b = m("ferry", field), m("ferry-base", field)
        res["values"][key] = a / b if a is not None and b else None
    moved = base_daemons.get("gb_moved")
    for who in ("proxy", "cache"):
        cpu = base_daemons.get(who + "_cpu_s")
        res["base_daemons"][who + "_cpu_per_gb"] = cpu / moved if cpu is not None and moved else None
    return res


def fmt(v, unit="", digits=2):
    if v is None:
        return "-"
    return ("%." + str(digits) + "f%s") % (v, unit)


def print_table(agg, meta):
    labels = path_labels(meta)
    print()
    print("ferry migrate benchmark: medians over %s runs (after %s warm-up), %s" % (
        meta.get("runs"), meta.get("warmups"), meta.get("started")))
    print("times in seconds; dump = freeze -> commit acknowledged and source killed (CRIU stats-dump);"
          " e2e = freeze -> running on the target; GB = 1e9 bytes")
    print("ferry: image-proxy -> image-cache, snapshot in memory; %s between the daemons" % (
        "mutual TLS (PKI made by `ferry certs`)" if meta.get("tls", False) else "plain TCP (--insecure)"))
    if meta.get("baseline_jar"):
        print("ferry-base: the same with daemons and client from %s (sha256 %s; ferry: %s)" % (
            meta["baseline_jar"], meta.get("baseline_jar_sha256"), meta.get("jar_sha256")))
    for size, e in agg.items():
        p = e["paths"]

        def g(path, field, scale=1000.0):
            v = p.get(path, {}).get("median", {}).get(field)
            return None if v is None else v / scale

        bytes_ = g("ferry", "bytes", 1) or g("ferry-base", "bytes", 1)
        print()
        print("== %s (%s bytes in the snapshot)" % (label_of(size), "-" if bytes_ is None else "%d" % bytes_))
        print("%-34s %8s %8s %8s %8s %8s %9s" % ("path", "dump", "copy", "restore", "e2e", "s/GiB", "GB/s"))
        rows = [
            (labels["ferry"], "ferry", g("ferry", "dump_ms"), None, g("ferry", "restore_ms"), g("ferry", "e2e_ms")),
            (labels["ferry-base"], "ferry-base", g("ferry-base", "dump_ms"), None, g("ferry-base", "restore_ms"), g("ferry-base", "e2e_ms")),
            ("CRIU disk path (tmpfs+socat+tmpfs)", "disk", g("disk", "dump_ms"), g("disk", "copy_ms"), g("disk", "restore_ms"), g("disk", "e2e_ms")),
            ("CRIU page server (+socat rest)", "pageserver", g("pageserver", "dump_ms"), g("pageserver", "copy_ms"), g("pageserver", "restore_ms"), g("pageserver", "e2e_ms")),
            ("raw socat, same bytes", "raw", None, g("raw", "raw_ms"), None, g("raw", "raw_ms")),
            ("raw TLS socat (OpenSSL), same bytes", "rawtls", None, g("rawtls", "raw_ms"), None, g("rawtls", "raw_ms")),
            ("CRIU --stream into a null streamer", "nullstream", g("nullstream", "dump_ms"), None, None, None),
        ]
        for label, path, dump, copy, restore, e2e in rows:
            if path not in p:
                continue
            moved = g(path, "bytes", 1) or bytes_
            rate_t = dump if path in ("ferry", "ferry-base", "pageserver", "nullstream") else (copy if path in ("raw", "rawtls") else None)
            rate = moved / rate_t / GB if moved and rate_t else None
            print("%-34s %8s %8s %8s %8s %8s %9s" % (label, fmt(dump), fmt(copy), fmt(restore), fmt(e2e),
                                                      fmt(e2e / (size / 1024) if e2e else None), fmt(rate)))
        for path in ("ferry", "ferry-base"):
            fe = p.get(path, {}).get("median", {})
            if not fe:
                continue
            print("%s detail: dump result %s s (work dir -> CRIU exit), ferry dump command %s s, restore command %s s,"
                  " e2e wall incl. 2 client JVM starts %s s" % (
                      path, fmt(g(path, "dump_result_ms")), fmt(g(path, "dump_cmd_ms")),
                      fmt(g(path, "restore_cmd_ms")), fmt(g(path, "e2e_wall_ms"))))
            pbytes = g(path, "bytes", 1)
            if fe.get("dump_cpu_proxy_ms") is not None and pbytes:
                gb = pbytes / GB
                socats = ""
                for rp, rl in (("raw", "raw socat"), ("rawtls", "raw TLS socat")):
                    raw = p.get(rp, {}).get("median", {})
                    if raw:
                        socats += "; %s: sender %s, receiver %s" % (
                            rl, fmt(raw["tx_cpu_ms"] / 1000 / gb if raw.get("tx_cpu_ms") is not None else None),
                            fmt(raw["rx_cpu_ms"] / 1000 / gb if raw.get("rx_cpu_ms") is not None else None))
                print("%s CPU per GB during the dump: proxy (with CRIU) %s, cache %s%s" % (
                    path, fmt(fe["dump_cpu_proxy_ms"] / 1000 / gb), fmt(fe["dump_cpu_cache_ms"] / 1000 / gb), socats))
            if fe.get("cache_rss_held_kib") is not None:
                print("%s cache RSS (median): before the dump %s MiB, holding the snapshot %s MiB, after its restore dropped it %s MiB" % (
                    path, fmt(g(path, "cache_rss_before_kib", 1024), "", 0), fmt(g(path, "cache_rss_held_kib", 1024), "", 0),
                    fmt(g(path, "cache_rss_after_kib", 1024), "", 0)))
        d = e["daemons"]
        if d.get("proxy_hwm_kib") is not None:
            print("daemons: proxy peak RSS %s MiB, %s CPU-s; cache peak RSS %s MiB, %s CPU-s; over %s GB moved" % (
                fmt(d.get("proxy_hwm_kib", 0) / 1024, "", 0), fmt(d.get("proxy_cpu_s")),
                fmt(d.get("cache_hwm_kib", 0) / 1024, "", 0), fmt(d.get("cache_cpu_s")), fmt(d.get("gb_moved"))))
            if d.get("proxy_minflt") is not None and d.get("gb_moved"):
                print("daemons' minor page faults per GB moved (first touches of fresh memory): proxy %d, cache %d" % (
                    d["proxy_minflt"] / d["gb_moved"], d["cache_minflt"] / d["gb_moved"]))
        bd = d.get("base", {})
        if bd:
            bcpu = e.get("ab", {}).get("base_daemons", {})
            print("ferry-base daemons: proxy peak RSS %s MiB, %s CPU-s (%s CPU-s/GB); cache peak RSS %s MiB, %s CPU-s"
                  " (%s CPU-s/GB); over %s GB moved" % (
                      fmt(bd.get("proxy_hwm_kib", 0) / 1024, "", 0), fmt(bd.get("proxy_cpu_s")), fmt(bcpu.get("proxy_cpu_per_gb")),
                      fmt(bd.get("cache_hwm_kib", 0) / 1024, "", 0), fmt(bd.get("cache_cpu_s")), fmt(bcpu.get("cache_cpu_per_gb")),
                      fmt(bd.get("gb_moved"))))
        if d.get("load"):
            print("load: " + d["load"])
        print("%-44s %9s %9s  %s" % ("target", "measured", "limit", "verdict"))
        vals, verdicts = e["ratios"]["values"], e["ratios"]["verdicts"]
        for key, label, limit in TARGETS:
            lim = PROXY_RSS_LIMIT_MIB if key == "proxy_rss_mib" else limit
            print("%-44s %9s %9s  %s" % (label, fmt(vals.get(key)), fmt(lim), verdicts.get(key) or "n/a"))
        floor = e["ratios"].get("floor", {})
        if any(v is not None for v in floor.values()):
            print("%-44s %9s  %s" % ("the floor (informational)", "ratio", "(no verdict)"))
            for key, label in FLOOR:
                print("%-44s %9s" % (label, fmt(floor.get(key))))
        if "ab" in e:
            print("%-44s %9s %9s %9s  %s" % ("A/B (informational)", "ferry", "base", "ratio", "(no verdict)"))
            for key, field, label in AB:
                print("%-44s %9s %9s %9s" % (label, fmt(g("ferry", field)), fmt(g("ferry-base", field)),
                                             fmt(e["ab"]["values"].get(key))))
            vals = e["ratios"]["values"]
            bcpu = e["ab"]["base_daemons"]
            for who in ("proxy", "cache"):
                a, b = vals.get(who + "_cpu_per_gb"), bcpu.get(who + "_cpu_per_gb")
                print("%-44s %9s %9s %9s" % ("%s CPU-s per GB, ferry / ferry-base" % who, fmt(a), fmt(b),
                                             fmt(a / b if a is not None and b else None)))


SERIES = [  # (path, field, label, colour)
    ("ferry", "dump_ms", "ferry dump", "#1f77b4"),
    ("ferry", "e2e_ms", "ferry end-to-end", "#0b3d91"),
    ("disk", "e2e_ms", "CRIU disk path (dump+copy+restore)", "#d62728"),
    ("pageserver", "e2e_ms", "CRIU page server (dump+copy+restore)", "#ff7f0e"),
    ("raw", "raw_ms", "raw socat, same bytes", "#7f7f7f"),
]
BASE_SERIES = [  # with --baseline-jar, after the ferry bars
    ("ferry-base", "dump_ms", "ferry-base dump", "#9ecae1"),
    ("ferry-base", "e2e_ms", "ferry-base end-to-end", "#6baed6"),
]


def svg_chart(agg, meta, path):
    sizes = list(agg.keys())
    series = SERIES
    if any("ferry-base" in agg[size]["paths"] for size in sizes):
        series = SERIES[:2] + BASE_SERIES + SERIES[2:]
    values = {}
    for size in sizes:
        for key, field, _, _ in series:
            v = agg[size]["paths"].get(key, {}).get("median", {}).get(field)
            values[(size, key, field)] = None if v is None else v / 1000.0 / (size / 1024)
    top = max([v for v in values.values() if v] or [1.0])
    step = next(st for st in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100) if top / st <= 6)
    ticks = int(top / step) + 1
    top = ticks * step
    w, h, left, bottom, topm = 820, 420, 60, 60, 50
    plot_w, plot_h = w - left - 290, h - bottom - topm
    group_w = plot_w / max(1, len(sizes))
    bar_w = group_w * 0.8 / len(series)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14" font-weight="bold">Stop-and-copy migration, seconds per GiB (median of %s runs)</text>'
           % (left, meta.get("runs")),
           '<text x="%d" y="38" fill="#555">lower is better; two network-namespace nodes on one 2-core machine; ferry daemons: %s; %s</text>'
           % (left, "mutual TLS" if meta.get("tls", False) else "--insecure", meta.get("started", ""))]
    for i in range(ticks + 1):
        v = step * i
        y = topm + plot_h - plot_h * i / ticks
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y, left + plot_w, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, y + 4, v))
    out.append('<text x="15" y="%d" transform="rotate(-90 15 %d)">s / GiB</text>' % (topm + plot_h / 2, topm + plot_h / 2))
    for gi, size in enumerate(sizes):
        gx = left + gi * group_w + group_w * 0.1
        for si, (key, field, _, colour) in enumerate(series):
            v = values[(size, key, field)]
            if v is None:
                continue
            bh = plot_h * v / top
            x = gx + si * bar_w
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%.3f s/GiB</title></rect>'
                       % (x, topm + plot_h - bh, bar_w - 2, bh, colour, v))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>'
                       % (x + (bar_w - 2) / 2, topm + plot_h - bh - 3, v))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (left + gi * group_w + group_w / 2, topm + plot_h + 18, label_of(size)))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, topm + plot_h, left + plot_w, topm + plot_h))
    for si, (_, _, label, colour) in enumerate(series):
        y = topm + 10 + si * 22
        out.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (left + plot_w + 15, y, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (left + plot_w + 35, y + 11, label if len(label) < 30 else label[:label.index(" (")]))
    for i, note in enumerate(("dump: freeze -> commit acknowledged", "end-to-end: freeze -> running on target",
                              "CRIU paths: dump + copy + restore")):
        out.append('<text x="%d" y="%d" fill="#555" font-size="10">%s</text>' % (left + plot_w + 15, topm + 20 + (len(series) + i) * 22, note))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def report(runs_path, meta_path, json_path, svg_path):
    with open(runs_path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(meta_path) as f:
        meta = json.load(f)
    agg = aggregate(records, meta)
    result = {"meta": meta, "tls": meta.get("tls", False), "labels": path_labels(meta), "targets": {k: {"label": label, "limit": PROXY_RSS_LIMIT_MIB if k == "proxy_rss_mib" else lim}
                                        for k, label, lim in TARGETS},
              "sizes": {str(s): e for s, e in agg.items()}, "runs": records}
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print_table(agg, meta)
    svg_chart(agg, meta, svg_path)
    print()
    print("results: %s\nchart:   %s" % (json_path, svg_path))


def main(argv):
    if len(argv) == 3 and argv[1] == "stats":
        print(" ".join(str(v) for v in read_stats(argv[2])))
    elif len(argv) == 4 and argv[1] == "cpu-snapshot":
        cpu_snapshot(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "cpu-delta":
        print(cpu_delta(argv[2], argv[3]))
    elif len(argv) >= 4 and argv[1] == "tasks-snapshot":
        tasks_snapshot(argv[2], [int(p) for p in argv[3:]])
    elif len(argv) >= 4 and argv[1] == "tasks-delta":
        print(tasks_delta(argv[2], argv[3], dict(kv.split("=", 1)[::-1] for kv in argv[4:])))
    elif len(argv) == 5 and argv[1] == "tasks-total":
        print(tasks_total_ms(argv[2], argv[3], argv[4]))
    elif len(argv) == 6 and argv[1] == "report":
        report(*argv[2:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
