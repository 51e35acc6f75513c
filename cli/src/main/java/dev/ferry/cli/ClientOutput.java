package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.protocol.control.ControlClient;
import dev.ferry.protocol.control.Progress;
import dev.ferry.protocol.control.Request;
import dev.ferry.proxy.ProxyConfig;
import picocli.CommandLine.Model.CommandSpec;
import dev.ferry.protocol.control.Result;

import java.io.PrintWriter;

/** How client commands show a daemon's progress and result: progress and errors on stderr, results on stdout. */
final class ClientOutput {

    private final PrintWriter out;
    private final PrintWriter err;
    private final String command;

    ClientOutput(PrintWriter out, PrintWriter err, String command) {
        this.out = out;
        this.err = err;
        this.command = command;
    }

    /** Output through the command's picocli writers. */
    static ClientOutput of(CommandSpec spec, String command) {
        return new ClientOutput(spec.commandLine().getOut(), spec.commandLine().getErr(), command);
    }

    /** Sends {@code request} to the image-proxy in the run dir, showing its progress; returns its result. */
    Result askProxy(RunDirOption runDir, Request request) {
        return ControlClient.call(runDir.resolve().resolve(ProxyConfig.CONTROL_SOCKET), "image-proxy", request, this::progress);
    }

    /** Sends {@code request} to the image-cache in the run dir, showing its progress; returns its result. */
    Result askCache(RunDirOption runDir, Request request) {
        return ControlClient.call(runDir.resolve().resolve(CacheConfig.CONTROL_SOCKET), "image-cache", request, this::progress);
    }

    void progress(Progress p) {
        StringBuilder b = new StringBuilder(command).append(": ").append(p.getPhase());
        if (p.getBytes() > 0) {
            b.append(' ').append(Bytes.human(p.getBytes()));
        }
        if (p.getImages() > 0) {
            b.append(", ").append(p.getImages()).append(" images");
        }
        if (!p.getMessage().isEmpty()) {
            b.append(" — ").append(p.getMessage());
        }
        err.println(b);
        err.flush();
    }

    /** Prints the result and returns the exit code it carries. */
    int result(Result r) {
        if (r.getOk()) {
            out.println(command + ": " + r.getMessage() + (r.getDurationMillis() > 0 ? " (" + r.getDurationMillis() + " ms)" : ""));
            out.flush();
            return 0;
        }
        err.println(command + ": error: " + r.getMessage());
        if (r.getCriuLogExcerptCount() > 0) {
            err.println("CRIU log (" + r.getCriuLogPath() + "):");
            for (String line : r.getCriuLogExcerptList()) {
                err.println("  " + line);
            }
        } else if (!r.getCriuLogPath().isEmpty()) {
            err.println("CRIU log: " + r.getCriuLogPath());
        }
        err.flush();
        return r.getExitCode() == 0 ? 1 : r.getExitCode();
    }
}
