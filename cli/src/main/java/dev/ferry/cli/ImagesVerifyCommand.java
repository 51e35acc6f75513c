package dev.ferry.cli;

import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.VerifyRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/**
 * {@code ferry images verify NAME}: asks the local image-cache to recompute every image's size and CRC32C
 * over the memory it holds and compare them with the manifest verified at commit.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Re-check snapshot NAME in the local image-cache: every image's size and CRC32C, recomputed"
                + " over the memory the cache holds, against the manifest verified at commit.",
                "Exit 0 if all match, 8 (integrity) naming the first bad image, 9 if the cache does not hold NAME."})
public final class ImagesVerifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    HeldSnapshotArgument held;

    @Override
    public Integer call() {
        ClientOutput output = ClientOutput.of(spec, "ferry images verify");
        Result result = held.ask(output, s -> Request.newBuilder().setVerify(VerifyRequest.newBuilder().setSnapshot(s)).build());
        return output.result(result);
    }
}
