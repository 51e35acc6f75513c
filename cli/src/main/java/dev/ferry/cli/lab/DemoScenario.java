package dev.ferry.cli.lab;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * The {@code ferry demo} scenario: builds a two-node lab, starts the daemons, moves a counter loop
 * from the source node to the target node with {@code ferry dump --remote} and {@code ferry restore
 * --remote}, checks that it continued where it stopped, and tears everything down. Prints numbered
 * steps with timings. Single use; not thread-safe.
 */
public final class DemoScenario {

    /** Exit code for a failed check (the {@code ferry} table's "internal error"). */
    public static final int CHECK_FAILED = 1;
    private static final String SNAPSHOT = "demo";
    private static final int STEPS = 9;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(120);

    private final FerryJar jar;
    private final Path criu;
    private final boolean keep;
    private final PrintWriter out;
    private final PrintWriter err;
    private final List<String> failures = new ArrayList<>();

    private Path base;
    private TwoNodeLab lab;
    private FerryDaemons daemons;
    private Workload source;
    private CounterWatch watch;
    private long restoredPid = -1;
    private int step;
    private String summary = "";
    private long stepStart;

    public DemoScenario(FerryJar jar, Path criu, boolean keep, PrintWriter out, PrintWriter err) {
        this.jar = jar;
        this.criu = criu;
        this.keep = keep;
        this.out = out;
        this.err = err;
    }

    /** Runs the demo and returns its exit code: 0 only when every check passed. */
    public int run() {
        Thread hook = new Thread(this::cleanUpQuietly, "ferry-demo-cleanup");
        if (!keep) {
            Runtime.getRuntime().addShutdownHook(hook);
        }
        int code;
        try {
            code = migrate();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("demo: interrupted");
            code = CHECK_FAILED;
        } catch (IOException | TimeoutException | RuntimeException e) {
            err.println("demo: FAILED at step " + step + ": " + e.getMessage());
            printLogTails();
            code = CHECK_FAILED;
        } finally {
            if (keep) {
                printKept();
            } else {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // shutdown in progress: the hook cleans up
                }
                step = STEPS - 1;
                begin("clean up: kill the restored workload, stop the daemons, delete namespaces and work dir");
                cleanUpQuietly();
                done("done");
            }
        }
        if (code == 0) {
            out.println(summary);
        }
        out.flush();
        err.flush();
        return code;
    }

    private int migrate() throws IOException, InterruptedException, TimeoutException {
        begin("create two nodes as network namespaces (bridge in its own namespace)");
        base = ScratchDir.create();
        int octet = 100 + new SecureRandom().nextInt(100);
        lab = TwoNodeLab.create(TwoNodeLab.randomPrefix(), "10.231." + octet);
        done("source " + lab.sourceNs() + " " + lab.sourceIp() + ", target " + lab.targetNs() + " "
                + lab.targetIp() + ", work dir " + base);

        begin("start image-cache in the target node, image-proxy in the source node, linked by mutual TLS"
                + " (certificates from 'ferry certs')");
        daemons = new FerryDaemons(lab, jar, criu, base, FerryDaemons.DEFAULT_PORT);
        daemons.start();
        done("image-cache pid " + daemons.cachePid() + " on " + lab.targetIp() + ":" + daemons.port()
                + ", image-proxy pid " + daemons.proxyPid() + "; link: mutual TLS 1.3, CA and certificates in "
                + daemons.pkiDir() + ", cache accepts only 'source'");

        begin("start a counter loop in the source node, in its own PID namespace");
        Path counter = base.resolve("counter");
        source = Workload.start(lab, lab.sourceNs(), CounterLoop.command(counter), null);
        watch = CounterWatch.start(counter);
        done("pid " + source.pid() + ": " + String.join(" ", CounterLoop.command(counter)));

        begin("watch the counter advance");
        long first = CounterLoop.awaitAtLeast(counter, 1, Duration.ofSeconds(10));
        Thread.sleep(1000);
        long second = CounterLoop.awaitAtLeast(counter, first + 1, Duration.ofSeconds(5));
        done("counter " + first + " → " + second + " after 1 s");

        begin("ferry dump -t " + source.pid() + " -D " + SNAPSHOT + " --remote (through the proxy to the cache)");
        FerryResult dump = jar.run(lab, lab.sourceNs(), CLIENT_TIMEOUT, this::echo, List.of("dump", "-t",
                Long.toString(source.pid()), "-D", SNAPSHOT, "--remote", "--run-dir", daemons.sourceRunDir().toString()));
        if (!dump.ok()) {
            return clientFailed("ferry dump", dump);
        }
        done("dump finished, exit 0");

        begin("check the source process is gone");
        boolean gone = ProcFs.awaitGone(source.pid(), 5_000);
        check(gone, "source pid " + source.pid() + " still runs after the dump");
        // the writer is dead, so the file holds its last value; no settling wait, the clock is running
        long atDump = CounterLoop.awaitAtLeast(counter, 1, Duration.ofSeconds(2));
        done(gone ? "pid " + source.pid() + " is gone; counter stopped at " + atDump : "source still running!");

        begin("ferry restore -D " + SNAPSHOT + " --remote (the cache restores from memory in the target node)");
        Path pidfile = base.resolve("restored.pid");
        Files.deleteIfExists(pidfile);
        FerryResult restore = jar.run(lab, lab.targetNs(), CLIENT_TIMEOUT, this::echo, List.of("restore", "-D",
                SNAPSHOT, "--remote", "--pidfile", pidfile.toString(), "--run-dir", daemons.targetRunDir().toString()));
        if (!restore.ok()) {
            return clientFailed("ferry restore", restore);
        }
        if (!Files.exists(pidfile)) {
            failures.add("ferry restore exited 0 but wrote no pidfile " + pidfile);
            printFailures();
            return CHECK_FAILED;
        }
        restoredPid = lab.register(Long.parseLong(Files.readString(pidfile).trim()));
        done("restored pid " + restoredPid);

        begin("check the restored process");
        boolean inTarget = lab.processInNode(restoredPid, lab.targetNs());
        check(inTarget, "restored pid " + restoredPid + " is not in the target's network namespace");
        long after = CounterLoop.awaitAtLeast(counter, atDump + 5, Duration.ofSeconds(10));
        Optional<CounterWatch.Sample> resumed = watch.firstAfter(atDump);
        check(resumed.isPresent() && resumed.get().value() > atDump && resumed.get().value() <= atDump + 2,
                "counter did not continue from " + atDump + " (first value after restore: "
                        + resumed.map(s -> Long.toString(s.value())).orElse("none") + ")");
        List<Path> images = new ArrayList<>(ScratchDir.findFiles(base, ".img"));
        check(images.isEmpty(), "image files on disk: " + images);
        long freezeMillis = watch.first(atDump).flatMap(f -> resumed.map(r -> (r.nanos() - f.nanos()) / 1_000_000))
                .orElse(-1L);
        watch.close();
        out.printf("      restored pid %d lives in %s: %s%n", restoredPid, lab.targetNs(), inTarget ? "yes" : "NO");
        out.printf("      counter %d at dump, %d first after restore, now %d%n", atDump,
                resumed.map(CounterWatch.Sample::value).orElse(-1L), after);
        out.printf("      *.img files under %s: %d%n", base, images.size());
        done(failures.isEmpty() ? "all checks passed" : failures.size() + " check(s) failed");

        if (!failures.isEmpty()) {
            printFailures();
            return CHECK_FAILED;
        }
        summary = String.format("demo: OK — counter %d at dump continued to %d on target; freeze→running %d ms",
                atDump, after, freezeMillis);
        return 0;
    }

    private void echo(boolean stderr, String line) {
        out.println("      | " + line);
        out.flush();
    }

    private void begin(String what) {
        step++;
        stepStart = System.nanoTime();
        out.printf("[%d/%d] %s%n", step, STEPS, what);
        out.flush();
    }

    private void done(String detail) {
        out.printf("      %s (%d ms)%n", detail, (System.nanoTime() - stepStart) / 1_000_000);
        out.flush();
    }

    private void check(boolean ok, String failure) {
        if (!ok) {
            failures.add(failure);
        }
    }

    private int clientFailed(String what, FerryResult result) {
        err.println("demo: " + what + " failed\n" + result.describe());
        printLogTails();
        return result.timedOut() ? 11 : (result.exitCode() > 0 ? result.exitCode() : CHECK_FAILED);
    }

    private void printFailures() {
        for (String f : failures) {
            err.println("demo: CHECK FAILED: " + f);
        }
        printLogTails();
    }

    private void printLogTails() {
        if (daemons != null) {
            err.println(daemons.logTails(25));
        }
    }

    private void printKept() {
        out.println("demo: --keep: left running for inspection:");
        if (lab != null) {
            out.println("      namespaces: " + String.join(" ", lab.namespaces()));
            lab.release();
        }
        if (daemons != null) {
            out.println("      image-cache pid " + (daemons.cacheAlive() ? daemons.cachePid() : "-") + ", image-proxy pid "
                    + (daemons.proxyAlive() ? daemons.proxyPid() : "-") + ", logs " + daemons.cacheLog() + " "
                    + daemons.proxyLog());
        }
        if (restoredPid > 0) {
            out.println("      restored workload pid " + restoredPid);
        }
        if (base != null) {
            out.println("      work dir " + base);
        }
        out.println("      clean up: kill -9 <pids>; ip netns del <each namespace>; rm -rf <work dir>");
    }

    private synchronized void cleanUpQuietly() {
        List<String> problems = new ArrayList<>();
        if (watch != null) {
            watch.close();
        }
        try {
            if (source != null) {
                source.kill();
            }
            if (daemons != null) {
                daemons.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            problems.add(e.getMessage());
        }
        if (lab != null) {
            try {
                lab.close();
            } catch (RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        if (base != null) {
            try {
                ScratchDir.deleteRecursively(base);
            } catch (IOException e) {
                problems.add("delete " + base + ": " + e.getMessage());
            }
        }
        for (String p : problems) {
            err.println("demo: cleanup: " + p);
        }
        err.flush();
    }
}
