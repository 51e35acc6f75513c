package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.protocol.control.ControlClient;
import dev.ferry.protocol.control.Progress;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.proxy.ProxyConfig;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How client commands show a daemon's progress and result: progress ({@link ProgressRenderer}) and errors on
 * stderr, results on stdout, as a line for people or, with {@code --json}, as exactly one JSON object.
 */
final class ClientOutput {

    private final PrintWriter out;
    private final PrintWriter err;
    private final String command;
    private ProgressRenderer progress;
    private String notePhase = "";
    private final java.util.Set<String> phasesSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();

    ClientOutput(PrintWriter out, PrintWriter err, String command) {
        this(out, err, command, ProgressRenderer.Mode.detect());
    }

    ClientOutput(PrintWriter out, PrintWriter err, String command, ProgressRenderer.Mode mode) {
        this.out = out;
        this.err = err;
        this.command = command;
        this.progress = new ProgressRenderer(err, command, mode);
    }

    /** Output through the command's picocli writers. */
    static ClientOutput of(CommandSpec spec, String command) {
        return new ClientOutput(spec.commandLine().getOut(), spec.commandLine().getErr(), command);
    }

    /** Sends {@code request} to the image-proxy in the run dir, showing its progress; returns its result. */
    Result askProxy(RunDirOption runDir, Request request) {
        return ask(runDir.resolve().resolve(ProxyConfig.CONTROL_SOCKET), "image-proxy", request);
    }

    /** Sends {@code request} to the image-cache in the run dir, showing its progress; returns its result. */
    Result askCache(RunDirOption runDir, Request request) {
        return ask(runDir.resolve().resolve(CacheConfig.CONTROL_SOCKET), "image-cache", request);
    }

    private Result ask(java.nio.file.Path socket, String daemon, Request request) {
        try {
            return ControlClient.call(socket, daemon, request, this::progress);
        } finally {
            progress.finish();
        }
    }

    void progress(Progress p) {
        phasesSeen.add(p.getPhase());
        progress.accept(p);
        if (!notePhase.isEmpty() && p.getPhase().equals(notePhase) && !p.getMessage().isEmpty()) {
            progress.note(command + ": " + p.getMessage());
            notePhase = "";
        }
    }

    /**
     * The message of the first progress event of {@code phase} is printed on a line of its own, whatever the
     * progress mode: it tells the user what to do next ({@code ferry dump --lazy}: run the restore on the target).
     */
    ClientOutput noteOnPhase(String phase) {
        this.notePhase = phase;
        return this;
    }

    /**
     * {@code --lazy}: the image-proxy went away (no result) after the tree ran on the target ("post-copy" progress).
     * The generic message ("CRIU then resumes the source") is wrong there: the target's copy cannot go on without its
     * pages and the source's CRIU ends the frozen one (docs/migrate.md). Other results are returned as they are.
     */
    Result explainLostProxyInPostCopy(Result r) {
        if (r.getOk() || r.getExitCode() != dev.ferry.protocol.ExitCode.DAEMON_UNREACHABLE.code()
                || !phasesSeen.contains(ProxyConfig.PHASE_POST_COPY)) {
            return r;
        }
        return r.toBuilder().setMessage("post-copy failed: the image-proxy stopped or died after the process began"
                + " running on the target, with pages still on this node. The process cannot go on: the image-cache"
                + " stops its copy on the target, and CRIU ends the frozen one here (docs/migrate.md, Post-copy);"
                + " see the image-proxy's log").build();
    }

    /** The renderer that showed (and timed) the progress of the last request. */
    ProgressRenderer renderer() {
        return progress;
    }

    /** Prints the result and returns the exit code it carries. */
    int result(Result r) {
        if (r.getOk()) {
            out.println(command + ": " + r.getMessage() + (r.getDurationMillis() > 0 ? " (" + r.getDurationMillis() + " ms)" : ""));
            if (!r.getTerminalLog().isEmpty()) {
                out.println(command + ": the job's terminal is " + r.getTerminal() + ", held by the image-cache; its"
                        + " output goes to " + r.getTerminalLog());
            }
            out.flush();
            return 0;
        }
        printError(r);
        return exitCode(r);
    }

    private void printError(Result r) {
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
    }

    static int exitCode(Result r) {
        return r.getOk() ? 0 : r.getExitCode() == 0 ? 1 : r.getExitCode();
    }

    /**
     * The fields every {@code --json} result starts with: ok, exit_code, message, and the CRIU log when there is
     * one. Callers add theirs and hand the map to {@link #json}.
     */
    static Map<String, Object> jsonBase(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", r.getOk());
        m.put("exit_code", exitCode(r));
        m.put("message", r.getMessage());
        return m;
    }

    /**
     * The JSON result of a transfer (dump, restore, migrate): snapshot, pid, bytes, images, duration, rate, the
     * phases as the progress showed them, CRIU's log and CRIU's own statistics.
     *
     * @param pid the dumped pid, or for a restore the restored one
     */
    Map<String, Object> transferJson(Result r, String snapshot, long pid) {
        Map<String, Object> m = jsonBase(r);
        m.put("command", command.replaceFirst("^ferry ", ""));
        m.put("snapshot", snapshot);
        m.put("pid", pid);
        m.put("bytes", r.getBytes());
        m.put("images", r.getImages());
        m.put("duration_ms", r.getDurationMillis());
        m.put("rate_bytes_per_s", r.getDurationMillis() > 0 ? r.getBytes() * 1000 / r.getDurationMillis() : 0);
        m.put("phases", progress.phasesJson());
        m.put("criu_log", r.getCriuLogPath());
        if (!r.getTerminalLog().isEmpty()) {
            m.put("terminal", r.getTerminal());
            m.put("terminal_log", r.getTerminalLog());
        }
        if (r.getCriuLogExcerptCount() > 0) {
            m.put("criu_log_excerpt", r.getCriuLogExcerptList());
        }
        Map<String, Object> criu = new LinkedHashMap<>();
        if (r.getCriuStats().hasDump()) {
            criu.put("dump", Json.fields(r.getCriuStats().getDump()));
        }
        if (r.getCriuStats().hasRestore()) {
            criu.put("restore", Json.fields(r.getCriuStats().getRestore()));
        }
        m.put("criu_stats", criu);
        return m;
    }

    /**
     * Prints {@code json} as exactly one line on stdout (for a failure, also the human error on stderr) and returns
     * the result's exit code.
     */
    int json(Result r, Map<String, Object> json) {
        out.println(Json.write(json));
        out.flush();
        if (!r.getOk()) {
            printError(r);
        }
        return exitCode(r);
    }
}
