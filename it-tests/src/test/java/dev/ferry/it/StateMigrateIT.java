package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every kind of kernel state the CRIU options name, moved by {@code ferry migrate} from the source node to the target
 * node, and shown to work there afterwards, not merely to run: data still flows over a unix socketpair, a pipe and a
 * FIFO; a new client connects to a listening unix socket; an external unix socket reaches its server by path; file
 * locks are still held; a cgroup v2 group is the one {@code --cgroup-root} names; interval timers and a timerfd keep
 * firing; every thread of a JVM keeps counting. Each workload ({@code states.py}, {@code Threads.java}) logs its state
 * as it goes, and the test reads the log across the migration.
 *
 * <p>The two nodes are network namespaces of one machine and share its filesystem: paths a workload holds (its
 * logs, a socket's or a FIFO's path, a locked file) exist on the target because they are the same files. Between
 * real machines they would have to exist on the target (docs/migrate.md, What each kind of state needs).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class StateMigrateIT {

    private static final int OCTET = 31;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(OCTET, LabExtension.Daemons.BOTH, true);

    private static final String PYTHON = "/usr/bin/python3";

    @Test
    void unixSocketPairAndListeningSocket_dataFlowsAndNewClientsConnectOnTarget() throws Exception {
        LabFixture fx = LAB.fx();
        Path socket = fx.path("listen.sock");
        ReplyLog pair = new ReplyLog(fx.path("unix.log"));
        Workload w = start(fx, "unix", pair.log().toString(), socket.toString());
        pair.await(fx, 20, 15_000, "before the migration");
        assertEquals("pong 1", connect(fx, fx.lab().sourceNs(), socket), "the listener does not answer on the source");

        long restored = migrate(fx, w);
        long at = pair.lastN();
        pair.await(fx, at + 25, 15_000, "over the socketpair after the migration (last before: " + at + ")");
        assertEquals(List.of(), pair.errors(), "the socketpair broke");
        assertEquals(List.of(), pair.discontinuities(), "the child's counter over the socketpair did not continue");
        assertEquals("pong 2", connect(fx, fx.lab().targetNs(), socket),
                "a new client on the target does not reach the restored listener (or its count restarted)");
        assertTrue(ProcFs.isRunning(restored));
    }

    @Test
    void externalUnixSocket_reconnectsToItsServerByPath() throws Exception {
        LabFixture fx = LAB.fx();
        Path socket = fx.path("dgram.sock");
        ReplyLog server = new ReplyLog(fx.path("dgram-server.log"));
        // the server is outside the migrated tree, in the source's network namespace (CRIU finds a peer only there,
        // through sock_diag); on the target the restored socket connects again to the same path
        fx.startIn(fx.lab().sourceNs(), List.of(PYTHON, script(fx), "dgram-server", server.log().toString(),
                socket.toString()), fx.path("dgram-server.out.log"));
        awaitFile(socket);
        ReplyLog sender = new ReplyLog(fx.path("ext-unix.log"));
        Workload w = start(fx, "ext-unix", sender.log().toString(), socket.toString());
        server.await(fx, 20, 15_000, "at the server before the migration");

        FerryResult refused = fx.migrate(w.pid(), "-D", "ext-unix-without");
        assertEquals(4, refused.exitCode(), () -> "without --ext-unix-sk CRIU must refuse the external socket\n"
                + refused.describe());
        assertTrue(refused.stderr().contains("without peer") || refused.stderr().contains("External socket"),
                () -> "CRIU's reason is not shown\n" + refused.describe());
        assertTrue(w.isRunning(), "the source is not running after a refused dump");

        migrate(fx, w, "--ext-unix-sk");
        long at = server.lastN();
        server.await(fx, at + 25, 15_000, "at the server after the migration (last before: " + at + ")");
        assertEquals(List.of(), sender.errors(), "the restored sender's socket failed");
        assertEquals(List.of(), server.discontinuities(), "datagrams lost, duplicated or counted again");
    }

    /**
     * Through {@code ferry dump} + {@code ferry restore}, not {@code migrate}: the locked file is the same file on both
     * nodes here, and during a migration the frozen source still holds its locks while the target restores, so CRIU's
     * restore would wait for them (see {@link #fileLocksOnASharedFile_migrateRollsBackAtRestoreTimeout}).
     */
    @Test
    void fileLocks_stillHeldOnTarget() throws Exception {
        LabFixture fx = LAB.fx();
        Path file = fx.path("locked");
        ReplyLog ticks = new ReplyLog(fx.path("locks.log"));
        Workload w = start(fx, "locks", ticks.log().toString(), file.toString());
        ticks.await(fx, 10, 15_000, "before the migration");
        assertEquals("flock:busy posix:busy", tryLock(fx, fx.lab().sourceNs(), file), "the workload holds no locks");

        long restored = dumpAndRestore(fx, w, "locks", "--file-locks");
        long at = ticks.lastN();
        ticks.await(fx, at + 10, 15_000, "after the migration");
        assertEquals("flock:busy posix:busy", tryLock(fx, fx.lab().targetNs(), file),
                "another process on the target could take the locks");
        String locks = Files.readString(Path.of("/proc/locks"));
        assertTrue(locks.contains(" " + restored + " "), () -> "/proc/locks shows no lock of the restored pid "
                + restored + ":\n" + locks);

        ProcessHandle.of(restored).ifPresent(ProcessHandle::destroyForcibly);
        assertTrue(ProcFs.awaitGone(restored, 5_000));
        assertEquals("flock:free posix:free", tryLock(fx, fx.lab().targetNs(), file),
                "the locks were not the restored process's (still taken after it ended)");
    }

    @Test
    void fileLocksOnASharedFile_migrateRollsBackAtRestoreTimeout() throws Exception {
        LabFixture fx = LAB.fx();
        Path file = fx.path("shared-locked");
        ReplyLog ticks = new ReplyLog(fx.path("shared-locks.log"));
        Workload w = start(fx, "locks", ticks.log().toString(), file.toString());
        ticks.await(fx, 10, 15_000, "before the migration");

        FerryResult m = fx.migrate(w.pid(), "--file-locks", "--restore-timeout", "3");
        assertTrue(m.exitCode() != 0, () -> "the restore should wait for the frozen source's lock and time out\n"
                + m.describe());
        assertTrue(m.stderr().contains("keeps running"), m::describe);
        assertTrue(w.isRunning(), "the source does not run after the rollback");
        long at = ticks.lastN();
        ticks.await(fx, at + 10, 15_000, "after the rollback");
        assertEquals("flock:busy posix:busy", tryLock(fx, fx.lab().sourceNs(), file),
                "the source lost its locks in the rollback");
        assertEquals(List.of(), ownPidNamespaces(fx, fx.lab().targetNs()),
                "a half-restored tree is left on the target (processes in a PID namespace of their own)");
    }

    /**
     * Through {@code ferry dump} + {@code ferry restore}: the FIFO is the same file on both nodes here, so during a
     * migration the frozen source's FIFO and the restored one would be one kernel pipe, and the bytes it held would
     * arrive twice. Between machines each node has its own FIFO.
     */
    @Test
    void pipeAndFifo_keepMovingData() throws Exception {
        LabFixture fx = LAB.fx();
        Path fifo = fx.path("data.fifo");
        fx.runIn(fx.lab().sourceNs(), "mkfifo", fifo.toString());
        ReplyLog pipe = new ReplyLog(fx.path("pipes.log"));
        ReplyLog named = new ReplyLog(fx.path("pipes.log.fifo"));
        Workload w = start(fx, "pipes", pipe.log().toString(), fifo.toString());
        pipe.await(fx, 20, 15_000, "over the pipe before the migration");
        named.await(fx, 20, 15_000, "over the FIFO before the migration");

        dumpAndRestore(fx, w, "pipes");
        long atPipe = pipe.lastN();
        long atFifo = named.lastN();
        pipe.await(fx, atPipe + 25, 15_000, "over the pipe after the migration");
        named.await(fx, atFifo + 25, 15_000, "over the FIFO after the migration");
        assertEquals(List.of(), pipe.errors());
        assertEquals(List.of(), named.errors());
        assertEquals(List.of(), pipe.discontinuities(), "lines lost or repeated over the pipe");
        assertEquals(List.of(), named.discontinuities(), "lines lost or repeated over the FIFO");
    }

    /**
     * setitimer and a POSIX timer keep firing. The workload's timerfd is logged but not held to it: CRIU 4.2 reads a
     * periodic timerfd with an unread expiration as {@code it_value (0, 0)} and restores it disarmed (docs/migrate.md).
     */
    @Test
    void intervalTimerAndPosixTimer_keepFiring() throws Exception {
        LabFixture fx = LAB.fx();
        Path log = fx.path("timers.log");
        Workload w = start(fx, "timers", log.toString());
        awaitTicks(fx, log, 3, new long[] {20, 20, 0}, "before the migration");

        migrate(fx, w);
        long[] at = lastTick(log, 3);
        long[] after = awaitTicks(fx, log, 3, new long[] {at[0] + 25, at[1] + 25, 0}, "after the migration");
        List<long[]> ticks = ticks(log, 3);
        for (int i = 1; i < ticks.size(); i++) {
            long[] a = ticks.get(i - 1);
            long[] b = ticks.get(i);
            assertTrue(b[0] >= a[0] && b[1] >= a[1] && b[2] >= a[2], "a timer count went back (restarted?): "
                    + Arrays.toString(a) + " then " + Arrays.toString(b));
        }
        System.out.printf("StateMigrateIT timers: at the migration %s, later %s (SIGALRM, POSIX timer, timerfd)%n",
                Arrays.toString(at), Arrays.toString(after));
    }

    @Test
    void ownCgroupV2_restoredIntoTheGroupCgroupRootNames() throws Exception {
        LabFixture fx = LAB.fx();
        CgroupV2 cgroups = CgroupV2.find();
        String prefix = "ferry-it-" + fx.lab().prefix();
        Path source = cgroups.create(prefix + "src");
        Path target = cgroups.path(prefix + "dst");
        try {
            ReplyLog ticks = new ReplyLog(fx.path("cgroup.log"));
            Workload w = start(fx, "cgroup", ticks.log().toString(), source.toString());
            ticks.await(fx, 10, 15_000, "before the migration");
            assertEquals("/" + prefix + "src", cgroups.of(w.pid()), "the workload is not in the test's group");

            long restored = migrate(fx, w, "--manage-cgroups", "soft", "--cgroup-root", ":/" + prefix + "dst");
            long at = ticks.lastN();
            ticks.await(fx, at + 10, 15_000, "after the migration");
            assertEquals(List.of(), ticks.discontinuities());
            assertEquals("/" + prefix + "dst", cgroups.of(restored),
                    "the restored tree is not in the group --cgroup-root names");
            assertTrue(Files.isDirectory(target));
            assertEquals(List.of(), cgroups.v1Leftovers(prefix), "CRIU made groups in the v1 hierarchies");
        } finally {
            fx.killProcesses();
            cgroups.remove(target);
            cgroups.remove(source);
        }
        assertFalse(Files.exists(source) || Files.exists(target), "the test's cgroups are left");
    }

    @Test
    void multiThreadedJvm_everyThreadKeepsCounting() throws Exception {
        LabFixture fx = LAB.fx();
        int threads = 4;
        Path log = fx.path("threads.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Workload w = fx.startWorkload(List.of(java, "-XX:-UsePerfData", "-Xmx32m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", fx.script("Threads.java").toString(), log.toString(),
                Integer.toString(threads)), fx.path("threads.out.log"));
        long[] twenty = new long[threads];
        Arrays.fill(twenty, 20);
        awaitTicks(fx, log, threads, twenty, "before the migration (JVM start)");

        long restored = migrate(fx, w);
        long[] at = lastTick(log, threads);
        long[] want = new long[threads];
        for (int i = 0; i < threads; i++) {
            want[i] = at[i] + 30;
        }
        awaitTicks(fx, log, threads, want, "after the migration, in every thread");
        long tasks;
        try (var s = Files.list(Path.of("/proc", Long.toString(restored), "task"))) {
            tasks = s.count();
        }
        assertTrue(tasks > threads, "the restored JVM has " + tasks + " threads (expected: more than " + threads + ")");
    }

    /**
     * A job on a terminal outside its tree (its stdio and controlling terminal a pty whose master another process
     * holds). Without {@code --shell-job} CRIU refuses the dump and the job runs on. With it the job moves: on the
     * target it runs on a terminal the image-cache opened and holds, whose output goes to the log ferry names; once
     * the job is gone the cache closes the terminal.
     */
    @Test
    void shellJobOnATerminal_continuesOnTheTargetOnATerminalTheCacheHolds() throws Exception {
        LabFixture fx = LAB.fx();
        ReplyLog ticks = new ReplyLog(fx.path("shell-job.log"));
        long job = startOnTerminal(fx, "tty-tick", ticks.log().toString());
        ticks.await(fx, 10, 15_000, "before the migration");
        long cache = fx.daemons().cachePid();
        assertEquals(List.of(), ptyMasters(cache), "the image-cache holds a terminal before any shell job came");

        FerryResult without = fx.migrate(job, "-D", "shell-job-without");
        assertEquals(4, without.exitCode(), () -> "CRIU should refuse a terminal whose master is outside the tree\n"
                + without.describe());
        assertTrue(without.stderr().contains("without correspond master peer"), without::describe);
        ticks.await(fx, ticks.lastN() + 5, 15_000, "on the source after the refused dump");

        FerryResult with = fx.migrate(job, "-D", "shell-job", "--shell-job");
        assertEquals(0, with.exitCode(), () -> "ferry migrate --shell-job failed\n" + with.describe() + fx.diagnostics());
        long restored = fx.adopt(NodeState.restoredPid(with.stdout()));
        java.util.regex.Matcher said = java.util.regex.Pattern
                .compile("the job's terminal is (/dev/pts/\\d+), held by the image-cache; its output goes to (\\S+)")
                .matcher(with.stdout());
        assertTrue(said.find(), () -> "ferry migrate does not say where the job's terminal output goes\n"
                + with.describe());
        String pts = said.group(1);
        Path terminalLog = Path.of(said.group(2));
        assertTrue(terminalLog.startsWith(fx.daemons().targetRunDir()), () -> terminalLog + " is not in the cache's"
                + " run dir " + fx.daemons().targetRunDir());
        assertTrue(ProcFs.awaitGone(job, 5_000), "the source job still runs after the migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored
                + " is not in the target node");
        assertEquals(pts, stdin(restored), "the restored job's stdin is not the terminal ferry named");
        assertEquals(1, ptyMasters(cache).size(), "the image-cache does not hold the job's terminal");

        long at = ticks.lastN();
        ticks.await(fx, at + 25, 15_000, "on the target (last before: " + at + ")");
        assertEquals(List.of(), ticks.errors(), "the job could not write to its terminal on the target");
        assertEquals(List.of(), ticks.discontinuities());
        long onTerminal = awaitTerminalLine(terminalLog, at + 25, 15_000);
        assertTrue(onTerminal > at, "the terminal log has nothing written after the migration");

        killJobAndAwaitTerminalClosed(restored, cache);
        assertTrue(fx.daemons().cacheAlive(), "the image-cache died with the job's terminal");
    }

    /**
     * The same through {@code ferry dump --shell-job} and {@code ferry restore --remote --shell-job --json}: the
     * JSON result names the terminal and its log, and the job runs on that terminal.
     */
    @Test
    void shellJobThroughDumpAndRestore_restoreJsonNamesTheTerminalAndItsLog() throws Exception {
        LabFixture fx = LAB.fx();
        ReplyLog ticks = new ReplyLog(fx.path("shell-dump.log"));
        long job = startOnTerminal(fx, "tty-tick", ticks.log().toString());
        ticks.await(fx, 10, 15_000, "before the dump");
        long cache = fx.daemons().cachePid();

        FerryResult dump = fx.dump(job, "shell-dump", "--shell-job");
        assertEquals(0, dump.exitCode(), () -> "ferry dump --shell-job failed\n" + dump.describe());
        assertTrue(ProcFs.awaitGone(job, 5_000), "the source job still runs after the dump");
        Path pidfile = fx.path("shell-dump.pid");
        FerryResult restore = fx.restore("shell-dump", pidfile, "--shell-job", "--json");
        assertEquals(0, restore.exitCode(), () -> "ferry restore --shell-job failed\n" + restore.describe()
                + fx.diagnostics());
        long restored = fx.restoredPid(pidfile);
        java.util.regex.Matcher json = java.util.regex.Pattern
                .compile("\"terminal\":\"(/dev/pts/\\d+)\",\"terminal_log\":\"([^\"]+)\"")
                .matcher(restore.stdout());
        assertTrue(json.find(), () -> "the JSON result names no terminal\n" + restore.describe());
        assertEquals(json.group(1), stdin(restored), "the restored job's stdin is not the terminal the JSON names");
        long at = ticks.lastN();
        ticks.await(fx, at + 25, 15_000, "after the restore (last before: " + at + ")");
        assertEquals(List.of(), ticks.errors(), "the job could not write to its terminal on the target");
        awaitTerminalLine(Path.of(json.group(2)), at + 25, 15_000);

        killJobAndAwaitTerminalClosed(restored, cache);
    }

    /**
     * A shell job whose restore fails on the target (it holds locks on a file both nodes share, which the frozen
     * source still holds, so the restore waits until {@code --restore-timeout}): the migration rolls back, the job
     * runs on at the source on its own terminal, and the image-cache lets go of the terminal it opened.
     */
    @Test
    void shellJobWhoseRestoreFails_rollsBack_sourceKeepsItsTerminal_cacheClosesItsOwn() throws Exception {
        LabFixture fx = LAB.fx();
        Path file = fx.path("shell-job-locked");
        ReplyLog ticks = new ReplyLog(fx.path("shell-job-locks.log"));
        long job = startOnTerminal(fx, "locks", ticks.log().toString(), file.toString());
        ticks.await(fx, 10, 15_000, "before the migration");
        String sourceTerminal = stdin(job);
        long cache = fx.daemons().cachePid();

        FerryResult m = fx.migrate(job, "-D", "shell-job-locks", "--shell-job", "--file-locks", "--restore-timeout", "3");
        assertTrue(m.exitCode() != 0, () -> "the restore should wait for the frozen source's lock and time out\n"
                + m.describe());
        assertTrue(m.stderr().contains("keeps running"), m::describe);
        assertTrue(ProcFs.isRunning(job), "the job does not run on the source after the rollback");
        long at = ticks.lastN();
        ticks.await(fx, at + 10, 15_000, "on the source after the rollback");
        assertEquals(sourceTerminal, stdin(job), "the job is not on its own terminal after the rollback");
        assertEquals(List.of(), ptyMasters(cache), "the image-cache still holds the terminal of a failed restore");
        assertEquals(List.of(), ownPidNamespaces(fx, fx.lab().targetNs()),
                "a half-restored job is left on the target");
    }

    @Test
    void checkListsTheStateSupportOfBothNodes() throws Exception {
        LabFixture fx = LAB.fx();
        FerryResult check = fx.ferry(fx.lab().sourceNs(), List.of("check", "--target", fx.lab().targetIp() + ":"
                + dev.ferry.cli.lab.FerryDaemons.DEFAULT_PORT, "--run-dir", fx.daemons().sourceRunDir().toString()));
        assertEquals(0, check.exitCode(), check::describe);
        String out = check.stdout();
        assertTrue(out.contains("state support (this node, target):"), out);
        assertTrue(out.contains("image-cache"), () -> "the target's image-cache did not answer\n" + out);
        for (String state : List.of("shell-job", "unix-sockets", "ext-unix-sk", "file-locks", "cgroup-v2", "threads",
                "pipes-fifos", "timers", "tcp-established")) {
            assertTrue(out.lines().anyMatch(l -> l.matches("\\s+" + state + "\\s+yes\\s+yes\\s+.*")),
                    () -> state + " is not listed as supported on both nodes\n" + out);
        }
    }

    // ---- helpers

    /**
     * Starts {@code states.py MODE ARGS} in the source node as a shell job: on a terminal whose master
     * {@code pty-run} holds outside the job's tree, the job the session leader of its own PID namespace with that
     * terminal as its controlling terminal. Returns the job's PID (owned by the lab).
     */
    private static long startOnTerminal(LabFixture fx, String mode, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(PYTHON, script(fx), "pty-run", "unshare", "--pid", "--fork",
                "setsid", "--ctty", PYTHON, script(fx), mode));
        command.addAll(List.of(args));
        Process terminal = fx.startIn(fx.lab().sourceNs(), command, fx.path(mode + ".pty.out.log"));
        long deadline = System.currentTimeMillis() + 10_000;
        List<Long> below = List.of();
        while (System.currentTimeMillis() < deadline) {
            List<Long> unshare = ProcFs.children(terminal.pid());
            below = unshare.isEmpty() ? List.of() : ProcFs.children(unshare.get(0));
            if (!below.isEmpty()) {
                break;
            }
            Thread.sleep(20);
        }
        assertEquals(1, below.size(), "pty-run started no job below unshare within 10 s");
        long job = fx.adopt(below.get(0));
        assertTrue(stdin(job).startsWith("/dev/pts/"), "the job's stdin is not a terminal");
        return job;
    }

    private static String stdin(long pid) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", "0")).toString();
    }

    /** The fds of {@code pid} that are pseudo-terminal masters ({@code /dev/ptmx}, or devpts' own ptmx). */
    /** Kills the restored job, then waits (up to 5 s) for the image-cache to close the terminal it held for it. */
    private static void killJobAndAwaitTerminalClosed(long restored, long cache) throws Exception {
        ProcessHandle.of(restored).ifPresent(ProcessHandle::destroyForcibly);
        assertTrue(ProcFs.awaitGone(restored, 5_000), "the restored job did not end on SIGKILL");
        long deadline = System.currentTimeMillis() + 5_000;
        while (!ptyMasters(cache).isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(List.of(), ptyMasters(cache), "the image-cache still holds the terminal of a job that ended");
    }

    private static List<String> ptyMasters(long pid) throws IOException {
        List<String> masters = new ArrayList<>();
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.equals("/dev/ptmx") || target.equals("/dev/pts/ptmx")) {
                        masters.add(fd.getFileName() + " -> " + target);
                    }
                } catch (IOException closed) {
                    // closed while listed
                }
            }
        }
        return masters;
    }

    /** Waits until the terminal log holds a line {@code tty N} with N >= {@code n}; returns the last N seen. */
    private static long awaitTerminalLine(Path log, long n, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        long last = 0;
        while (System.currentTimeMillis() < deadline) {
            last = Files.exists(log) ? lastTtyLine(Files.readString(log)) : 0;
            if (last >= n) {
                return last;
            }
            Thread.sleep(50);
        }
        long seen = last;
        throw new AssertionError("the terminal log " + log + " reached 'tty " + seen + "' (expected: 'tty " + n
                + "' or later): " + (Files.exists(log) ? "tail: " + tail(Files.readString(log)) : "no such file"));
    }

    private static long lastTtyLine(String text) {
        long last = 0;
        for (String line : text.split("\r?\n")) {
            if (line.matches("tty \\d+")) {
                last = Math.max(last, Long.parseLong(line.substring(4)));
            }
        }
        return last;
    }

    private static String tail(String text) {
        return text.length() <= 200 ? text : text.substring(text.length() - 200);
    }

    private static String script(LabFixture fx) throws IOException {
        Path p = fx.path("states.py");
        return Files.exists(p) ? p.toString() : fx.script("states.py").toString();
    }

    private static Workload start(LabFixture fx, String mode, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(PYTHON, script(fx), mode));
        command.addAll(List.of(args));
        return fx.startWorkload(command, fx.path(mode + ".out.log"));
    }

    /**
     * {@code ferry migrate -t PID extra...}: asserts success, that the source tree is gone and the restored one runs in
     * the target node, and returns the restored root's PID (owned by the lab from now on).
     */
    private static long migrate(LabFixture fx, Workload w, String... extra) throws Exception {
        FerryResult m = fx.migrate(w.pid(), extra);
        assertEquals(0, m.exitCode(), () -> "ferry migrate " + String.join(" ", extra) + " failed\n" + m.describe()
                + fx.diagnostics());
        long restored = fx.adopt(NodeState.restoredPid(m.stdout()));
        assertTrue(ProcFs.awaitGone(w.pid(), 5_000), "the source tree still runs after the migration");
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored
                + " is not in the target node");
        return restored;
    }

    /**
     * {@code ferry dump -D NAME extra...} on the source, then {@code ferry restore -D NAME extra...} on the target: the
     * source ends before the target restores. Returns the restored root's PID.
     */
    private static long dumpAndRestore(LabFixture fx, Workload w, String name, String... extra) throws Exception {
        FerryResult dump = fx.dump(w.pid(), name, extra);
        assertEquals(0, dump.exitCode(), () -> "ferry dump failed\n" + dump.describe() + fx.diagnostics());
        assertTrue(ProcFs.awaitGone(w.pid(), 5_000), "the source tree still runs after the dump");
        Path pidfile = fx.path(name + ".pid");
        FerryResult restore = fx.restore(name, pidfile, extra);
        assertEquals(0, restore.exitCode(), () -> "ferry restore failed\n" + restore.describe() + fx.diagnostics());
        long restored = fx.restoredPid(pidfile);
        assertTrue(fx.lab().processInNode(restored, fx.lab().targetNs()), "restored pid " + restored
                + " is not in the target node");
        return restored;
    }

    /**
     * PIDs in node {@code ns} that live in another PID namespace than this JVM: restored trees (whatever their
     * command line says while CRIU still restores them). The daemons run in this JVM's PID namespace.
     */
    private static List<Long> ownPidNamespaces(LabFixture fx, String ns) throws IOException {
        Path mine = Files.readSymbolicLink(Path.of("/proc/self/ns/pid"));
        List<Long> found = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    long pid = Long.parseLong(p.getFileName().toString());
                    if (fx.lab().processInNode(pid, ns) && !Files.readSymbolicLink(p.resolve("ns/pid")).equals(mine)) {
                        found.add(pid);
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            }
        }
        return found;
    }

    private static String connect(LabFixture fx, String ns, Path socket) throws Exception {
        return fx.runIn(ns, PYTHON, script(fx), "connect", socket.toString()).strip();
    }

    private static String tryLock(LabFixture fx, String ns, Path file) throws Exception {
        return fx.runIn(ns, PYTHON, script(fx), "trylock", file.toString()).strip();
    }

    private static void awaitFile(Path p) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!Files.exists(p) && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(p), p + " did not appear");
    }

    /** The {@code tick C1 ... Cn TIME} lines of {@code log}, as counter arrays. */
    private static List<long[]> ticks(Path log, int counters) throws IOException {
        List<long[]> result = new ArrayList<>();
        if (!Files.exists(log)) {
            return result;
        }
        String text = Files.readString(log);
        int end = text.lastIndexOf('\n');
        for (String line : end < 0 ? new String[0] : text.substring(0, end).split("\n")) {
            String[] parts = line.split(" ");
            if (parts.length == counters + 2 && parts[0].equals("tick")) {
                long[] values = new long[counters];
                for (int i = 0; i < counters; i++) {
                    values[i] = Long.parseLong(parts[i + 1]);
                }
                result.add(values);
            }
        }
        return result;
    }

    private static long[] lastTick(Path log, int counters) throws IOException {
        List<long[]> all = ticks(log, counters);
        return all.isEmpty() ? new long[counters] : all.get(all.size() - 1);
    }

    /** Waits until every counter of the last tick line reached {@code min}; returns that line. */
    private static long[] awaitTicks(LabFixture fx, Path log, int counters, long[] min, String when) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        long[] last = lastTick(log, counters);
        while (System.currentTimeMillis() < deadline) {
            last = lastTick(log, counters);
            boolean all = true;
            for (int i = 0; i < counters; i++) {
                all &= last[i] >= min[i];
            }
            if (all) {
                return last;
            }
            Thread.sleep(20);
        }
        long[] seen = last;
        throw new AssertionError("counters " + Arrays.toString(seen) + " (expected: >= "
                + Arrays.toString(min) + ") " + when + fx.diagnostics());
    }
}
