package dev.ferry.cli;

import dev.ferry.protocol.control.ListRequest;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.SnapshotInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;

/** {@code ferry images ls}: the snapshots the local image-cache holds, one line each. */
@Command(name = "ls", mixinStandardHelpOptions = true,
        description = "List the snapshots the local image-cache holds: name, state, images, bytes, age, source.")
public final class ImagesLsCommand implements Callable<Integer> {

    private static final String FORMAT = "%-24s %-10s %7s %10s %6s  %s%n";

    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object on stdout: {\"ok\":..., \"snapshots\":[...]}.")
    boolean json;

    @Mixin
    RunDirOption runDir;

    @Override
    public Integer call() {
        Request request = Request.newBuilder().setList(ListRequest.getDefaultInstance()).build();
        PrintWriter out = spec.commandLine().getOut();
        ClientOutput output = ClientOutput.of(spec, "ferry images ls");
        Result result = output.askCache(runDir, request);
        if (json) {
            var m = ClientOutput.jsonBase(result);
            m.put("snapshots", result.getSnapshotsList().stream().map(Json::fields).toList());
            return output.json(result, m);
        }
        if (!result.getOk()) {
            return output.result(result);
        }
        if (result.getSnapshotsCount() == 0) {
            out.println("no snapshots held");
        } else {
            out.printf(FORMAT, "NAME", "STATE", "IMAGES", "BYTES", "AGE", "SOURCE");
            Instant now = Instant.now();
            for (SnapshotInfo s : result.getSnapshotsList()) {
                out.printf(FORMAT, s.getName(), s.getState() + (s.getLazy() ? "(lazy)" : ""), s.getImages(), Bytes.human(s.getBytes()),
                        age(Duration.between(Instant.ofEpochMilli(s.getCreatedMillis()), now)), s.getSource());
            }
        }
        out.flush();
        return 0;
    }

    static String age(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return s + "s";
        } else if (s < 3600) {
            return s / 60 + "m";
        } else if (s < 86_400) {
            return s / 3600 + "h";
        }
        return s / 86_400 + "d";
    }
}
