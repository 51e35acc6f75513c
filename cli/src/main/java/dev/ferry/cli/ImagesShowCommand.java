package dev.ferry.cli;

import dev.ferry.protocol.control.ProcessInfo;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.ShowRequest;
import dev.ferry.protocol.control.SnapshotDetail;
import dev.ferry.protocol.control.SnapshotInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code ferry images show NAME}: the process tree a snapshot in the local image-cache holds, read by the cache from
 * CRIU's images in its memory (pstree, core, pagemap): pids, parents, threads, command names, dumped memory.
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = {"Show the process tree snapshot NAME holds: pid, ppid, threads, state, dumped memory and"
                + " command of every task, from CRIU's images in the image-cache's memory.",
                "Exit 0, 7 if the snapshot is still being received, 9 if the cache does not hold NAME."})
public final class ImagesShowCommand implements Callable<Integer> {

    private static final String FORMAT = "%7s %7s %7s %7s %7s  %-8s %10s  %s%n";

    @Spec
    CommandSpec spec;

    @Mixin
    HeldSnapshotArgument held;

    @Option(names = "--json", description = "Print one JSON object on stdout: the snapshot, its processes, its pages.")
    boolean json;

    @Override
    public Integer call() {
        ClientOutput output = ClientOutput.of(spec, "ferry images show");
        Result result = held.ask(output, s -> Request.newBuilder().setShow(ShowRequest.newBuilder().setSnapshot(s)).build());
        if (json) {
            Map<String, Object> m = ClientOutput.jsonBase(result);
            if (result.hasDetail()) {
                SnapshotDetail d = result.getDetail();
                m.put("snapshot", Json.fields(d.getInfo()));
                m.put("processes", d.getProcessesList().stream().map(Json::fields).toList());
                m.put("pages_bytes", d.getPagesBytes());
                m.put("pages_images", d.getPagesImages());
            }
            return output.json(result, m);
        }
        if (!result.getOk()) {
            return output.result(result);
        }
        print(spec.commandLine().getOut(), result.getDetail(), Instant.now());
        return 0;
    }

    static void print(PrintWriter out, SnapshotDetail d, Instant now) {
        SnapshotInfo info = d.getInfo();
        out.printf("snapshot %s: %s, %d images, %s, from %s, %s old%n", info.getName(), info.getState(),
                info.getImages(), Bytes.human(info.getBytes()), info.getSource().isEmpty() ? "?" : info.getSource(),
                ImagesLsCommand.age(Duration.between(Instant.ofEpochMilli(info.getCreatedMillis()), now)));
        out.printf("pages: %s in %d image(s)%n%n", Bytes.human(d.getPagesBytes()), d.getPagesImages());
        out.printf(FORMAT, "PID", "PPID", "PGID", "SID", "THREADS", "STATE", "MEMORY", "COMMAND");
        for (Row row : tree(d.getProcessesList())) {
            ProcessInfo p = row.process();
            out.printf(FORMAT, p.getPid(), p.getPpid(), p.getPgid(), p.getSid(), p.getThreadsCount(),
                    p.getState().isEmpty() ? "?" : p.getState(), Bytes.human(p.getMemoryBytes()),
                    "  ".repeat(row.depth()) + (p.getComm().isEmpty() ? "?" : p.getComm()));
        }
        out.flush();
    }

    record Row(ProcessInfo process, int depth) {
    }

    /** The tasks in tree order (each after its parent, children by pid), with their depth for indenting. */
    static List<Row> tree(List<ProcessInfo> processes) {
        Map<Integer, List<ProcessInfo>> children = new HashMap<>();
        Set<Integer> pids = new HashSet<>();
        for (ProcessInfo p : processes) {
            pids.add(p.getPid());
        }
        List<ProcessInfo> roots = new ArrayList<>();
        for (ProcessInfo p : processes) {
            if (pids.contains(p.getPpid()) && p.getPpid() != p.getPid()) {
                children.computeIfAbsent(p.getPpid(), k -> new ArrayList<>()).add(p);
            } else {
                roots.add(p);
            }
        }
        List<Row> rows = new ArrayList<>();
        roots.sort((a, b) -> Integer.compareUnsigned(a.getPid(), b.getPid()));
        for (ProcessInfo root : roots) {
            walk(root, 0, children, rows, new HashSet<>());
        }
        return rows;
    }

    private static void walk(ProcessInfo p, int depth, Map<Integer, List<ProcessInfo>> children, List<Row> rows,
                             Set<Integer> seen) {
        if (!seen.add(p.getPid())) {
            return; // a cycle in a damaged pstree: show each task once
        }
        rows.add(new Row(p, depth));
        List<ProcessInfo> kids = new ArrayList<>(children.getOrDefault(p.getPid(), List.of()));
        kids.sort((a, b) -> Integer.compareUnsigned(a.getPid(), b.getPid()));
        for (ProcessInfo k : kids) {
            walk(k, depth + 1, children, rows, seen);
        }
    }
}
