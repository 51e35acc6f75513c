package dev.ferry.cli;

import dev.ferry.protocol.control.RemoveRequest;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ferry images rm NAME}: removes a snapshot from the local image-cache and frees its memory. */
@Command(name = "rm", mixinStandardHelpOptions = true,
        description = {"Remove snapshot NAME from the local image-cache and free its memory. A snapshot being"
                + " received or restored is not removed.",
                "Exit 0, 7 if it is being received or restored, 9 if the cache does not hold NAME."})
public final class ImagesRmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    HeldSnapshotArgument held;

    @Option(names = "--json", description = "Print one JSON object on stdout: ok, exit_code, message, snapshot, bytes_freed.")
    boolean json;

    @Override
    public Integer call() {
        ClientOutput output = ClientOutput.of(spec, "ferry images rm");
        Result result = held.ask(output, s -> Request.newBuilder().setRemove(RemoveRequest.newBuilder().setSnapshot(s)).build());
        if (json) {
            Map<String, Object> m = ClientOutput.jsonBase(result);
            m.put("snapshot", held.snapshot);
            m.put("images", result.getImages());
            m.put("bytes_freed", result.getBytes());
            return output.json(result, m);
        }
        return output.result(result);
    }
}
