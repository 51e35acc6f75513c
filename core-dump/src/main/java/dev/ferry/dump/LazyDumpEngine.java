package dev.ferry.dump;

import dev.ferry.criu.ActionScriptGate;
import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuProcess;
import dev.ferry.criu.CriuWorkDir;
import dev.ferry.criu.PageServerSocket;
import dev.ferry.posix.Processes;
import dev.ferry.posix.TcpRepair;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.ImageSink;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Runs {@code criu dump --lazy-pages} for post-copy: every image but the lazy pages crosses through the
 * {@link ImageSink} as in a stop-and-copy dump (verified), then CRIU's page server serves the rest, on demand, over
 * a socket the {@link PageServerLink} joins to the target.
 *
 * <p>{@code --stream} cannot be combined with {@code --lazy-pages}, so CRIU writes its images (a few hundred KiB:
 * no lazy pages among them) into a private dir under {@code imagesRoot}, which must be a tmpfs: ferry never puts
 * checkpoint images on disk. CRIU's page-server socket is handed to it connected ({@link PageServerSocket}): no port
 * listens. At post-dump the engine sends those images, commits, and answers the hook {@code ok} only once the sink
 * committed (for a migration: the target runs the tree). From then on the source stays frozen while CRIU serves
 * pages, and CRIU ends it when the target's {@code criu lazy-pages} has fetched the last one.
 *
 * <p>The hook says ok as soon as the target verified the images (SNAPSHOT_ACK), not when the target runs the tree as
 * in stop-and-copy: CRIU's restorer already touches lazy memory before post-restore, so the source must serve pages
 * during the restore. Failure before the hook said ok: the hook fails, CRIU unlocks the network, and the engine
 * closes the page-server socket so that CRIU, which would wait for a page client, resumes the source at once.
 * Failure after it, while the target was not yet told to run the tree (its restore failed, the link broke): the
 * engine closes the socket, CRIU resumes the source ({@link LazyRollbackException}), but leaves its network lock
 * for the caller to remove. Failure once the target may run the tree (the link dies, the target's lazy-pages fails,
 * the lazy timeout passes): the source's copy is stale; the engine kills it, frozen, before it closes the socket,
 * and the process is lost on both nodes ({@link LazyPagesException}). That is post-copy's trade-off
 * (docs/migrate.md).
 *
 * <p>Ownership: each dump owns its CRIU, its page-server socket, its barrier thread and both dirs; the images dir
 * is deleted before {@link #dump} returns, the work dir keeps the logs. Thread-safety: dumps run concurrently, each
 * on its caller's thread.
 */
public final class LazyDumpEngine {

    public static final String LOG_FILE = "dump.log";
    private static final Duration ACCEPT_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    /** How long after CRIU's exit the target's word that every page arrived is waited for. */
    private static final Duration VERDICT_TIMEOUT = Duration.ofSeconds(30);
    private static final long POLL_MILLIS = 20;
    private static final int CHUNK = 1 << 20;
    private static final System.Logger LOG = System.getLogger(LazyDumpEngine.class.getName());

    /** The daemon's side of the page-server socket. */
    public interface PageServerLink {
        /**
         * CRIU's connected page-server socket, before anything is frozen; the link owns it from now on.
         *
         * @param beforeRollback run once, on any thread, right before the link resets the socket while the target has
         *                       not been told to run the tree: CRIU still holds the tasks frozen then
         */
        void attach(SocketChannel socket, Runnable beforeRollback);

        /** Completes exceptionally when the link to the target fails (never normally). */
        CompletableFuture<Void> failed();

        /** Completes when the target reports every page arrived; exceptionally when it reports they did not. */
        CompletableFuture<Void> complete();

        /**
         * Closes the page-server socket at once, so that CRIU fails the lazy transfer: with a reset, since CRIU takes a
         * clean EOF for a finished transfer and would end the source. Idempotent.
         */
        void close();

        /** Whether the target was told to run the tree (from then on the source's copy is stale). */
        boolean targetMayRun();
    }

    private final Criu criu;
    private final Path workRoot;
    private final Path imagesRoot;

    /**
     * @param imagesRoot a tmpfs dir (e.g. /dev/shm/ferry) for CRIU's non-page images while they are sent
     */
    public LazyDumpEngine(Criu criu, Path workRoot, Path imagesRoot) {
        this.criu = Objects.requireNonNull(criu, "criu");
        this.workRoot = Objects.requireNonNull(workRoot, "workRoot");
        this.imagesRoot = Objects.requireNonNull(imagesRoot, "imagesRoot");
    }

    /** Null if {@code dir} (created if missing) is on tmpfs; else what is wrong. */
    public static String tmpfsProblem(Path dir) {
        return CriuWorkDir.tmpfsProblem(dir);
    }

    /**
     * Dumps {@code job.pid()} lazily. Returns once CRIU exited 0 (the source ended) and the target reported every
     * page arrived; {@code lazyTimeout} bounds the post-copy phase on top of {@code job.timeout()}.
     *
     * @throws DumpCommitException if the commit failed; CRIU resumed the source
     * @throws LazyPagesException if post-copy failed after the target ran the tree; the source was ended
     * @throws CriuException if CRIU failed
     */
    public DumpOutcome dump(DumpJob job, ImageSink sink, PageServerLink pages, DumpListener listener,
                            Duration lazyTimeout) throws IOException {
        String problem = tmpfsProblem(imagesRoot);
        if (problem != null) {
            sink.abort(problem);
            throw new IOException(problem);
        }
        long start = System.nanoTime();
        Path workDir = CriuWorkDir.create(workRoot, "l");
        Path images = CriuWorkDir.create(imagesRoot, "l");
        Path log = workDir.resolve(LOG_FILE);
        ActionScriptGate hook = null;
        CriuProcess process = null;
        Barrier barrier = null;
        try (PageServerSocket ps = PageServerSocket.listen()) {
            hook = ActionScriptGate.create(workDir, ActionScriptGate.POST_DUMP, job.commitTimeout().plus(DumpEngine.HOOK_SLACK));
            List<String> args = new ArrayList<>(List.of("dump", "--lazy-pages", "--ps-socket",
                    Integer.toString(PageServerSocket.FD), "-t", Long.toString(job.pid()), "-D", images.toString(),
                    "-W", workDir.toString(), "-o", LOG_FILE, "-v4", "--action-script", hook.script().toString()));
            args.addAll(job.options().dumpArgs());
            process = ps.launcher(criu).start(args, workDir);
            listener.phase(DumpListener.PHASE_CRIU);
            CriuProcess p = process;
            Barrier b = new Barrier(hook, images, sink, job, listener);
            pages.attach(ps.accept(ACCEPT_TIMEOUT, () -> !p.isAlive()), () -> {
                if (b.committed && job.options().tcpEstablished()) {
                    b.tcpNote = releaseTcpRepair(job.pid()); // before post-dump CRIU's own rollback does it
                }
            });
            barrier = b;
            Thread t = new Thread(barrier, "ferry-lazy-post-dump-" + workDir.getFileName());
            t.setDaemon(true);
            t.start();
            return supervise(job, process, barrier, pages, lazyTimeout, workDir, log, start);
        } catch (IOException | RuntimeException e) {
            if (barrier == null || !barrier.committed) {
                sink.abort(e.getMessage() == null ? e.toString() : e.getMessage());
            }
            throw e;
        } finally {
            pages.close();
            if (process != null) {
                process.stop(STOP_GRACE);
            }
            if (hook != null) {
                hook.cancel();
                try {
                    hook.close();
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "cleaning up the post-dump hook: " + e.getMessage());
                }
            }
            CriuWorkDir.delete(images);
        }
    }

    private DumpOutcome supervise(DumpJob job, CriuProcess criu, Barrier barrier, PageServerLink pages,
                                  Duration lazyTimeout, Path workDir, Path log, long start) throws IOException {
        long deadline = start + job.timeout().plus(lazyTimeout).toNanos();
        String sourceEnded = null;
        String rolledBack = null;
        boolean released = false;
        try {
            while (!criu.waitFor(Duration.ofMillis(POLL_MILLIS))) {
                if (barrier.answered && !barrier.committed && !released) {
                    pages.close(); // CRIU would wait for a page client; a reset makes it resume the source now
                    released = true;
                }
                boolean overdue = System.nanoTime() - deadline >= 0;
                boolean linkDown = pages.failed().isDone() || pages.complete().isCompletedExceptionally();
                if (barrier.committed && sourceEnded == null && rolledBack == null && (linkDown || overdue)) {
                    String why = overdue ? "post-copy did not finish within " + job.timeout().plus(lazyTimeout)
                            : cause(pages);
                    if (pages.targetMayRun()) {
                        sourceEnded = why;
                        killTree(job.pid()); // stale once the target ran: it must not resume
                    } else {
                        rolledBack = why; // the target never ran it: CRIU resumes the source on a reset
                    }
                    pages.close();
                    released = true;
                } else if (overdue) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            if (barrier.committed) {
                killTree(job.pid());
            }
            criu.stop(STOP_GRACE);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for criu dump --lazy-pages (pid " + criu.pid() + ")");
        }
        boolean timedOut = criu.isAlive();
        if (timedOut) {
            LOG.log(Level.WARNING, "criu dump --lazy-pages (pid " + criu.pid() + ") overstayed; stopping it");
            if (barrier.committed) {
                killTree(job.pid());
            }
            criu.stop(STOP_GRACE);
        }
        int exit = criu.isAlive() ? -1 : criu.exitValue();
        Duration duration = Duration.ofNanos(System.nanoTime() - start);
        if (!barrier.committed) {
            barrier.join();
            if (barrier.failure != null) {
                DumpCommitException e = new DumpCommitException(barrier.failure.getMessage()
                        + "; the post-dump hook failed, so CRIU resumed the source (criu exit " + exit + "; log: " + log + ")",
                        barrier.failure.getCause());
                throw e;
            }
            throw CriuException.fromLog("dump", exit, log, timedOut ? "CRIU did not finish within the dump timeout"
                    : barrier.reached ? "the snapshot was not committed" : null, null);
        }
        if (rolledBack != null) {
            throw new LazyRollbackException("the target never ran the tree (" + rolledBack + "); CRIU resumed the"
                    + " source (criu exit " + exit + ")" + tcpNote(job, barrier), log);
        }
        if (sourceEnded == null && exit == 0) {
            try {
                pages.complete().get(VERDICT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                return new DumpOutcome(barrier.bytes, barrier.count, duration, workDir, log);
            } catch (TimeoutException e) {
                sourceEnded = "the target did not report the last page within " + VERDICT_TIMEOUT.toSeconds()
                        + " s after the source's CRIU served it";
            } catch (ExecutionException e) {
                sourceEnded = "the target's criu lazy-pages failed: " + e.getCause().getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the target's last page");
            }
        }
        if (sourceEnded == null) {
            sourceEnded = "criu dump --lazy-pages failed (exit " + exit + ")" + (timedOut ? ", overstayed and was stopped" : "")
                    + "; link: " + cause(pages);
            if (!pages.targetMayRun()) {
                throw new LazyRollbackException("criu dump --lazy-pages failed (exit " + exit + ") before the target"
                        + " ran the tree; CRIU resumed the source" + tcpNote(job, barrier), log);
            }
            killTree(job.pid());
        }
        throw new LazyPagesException(sourceEnded, log);
    }

    /**
     * Before CRIU is made to resume the source after its post-dump ({@link PageServerLink#attach}'s callback): CRIU
     * 4.2's rollback of a failed lazy transfer resumes the tasks with their TCP sockets still in repair mode (it skips
     * its network unlock), where a blocked {@code recv} fails and the application drops the connection; the tasks are
     * still frozen here, so ferry turns repair mode off itself. CRIU's network lock rules are swept once CRIU has
     * exited, as after any failed dump. Returns what to tell the user.
     */
    private static String releaseTcpRepair(long pid) {
        try {
            int n = TcpRepair.release(pid);
            LOG.log(Level.INFO, "turned TCP repair mode off on " + n + " socket(s) of the frozen tree of pid " + pid
                    + " before CRIU resumes it (CRIU 4.2 skips that after a failed post-copy transfer)");
            return "; its " + n + " connection(s) dumped with --tcp-established were taken out of CRIU's repair mode"
                    + " first and go on";
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "turning TCP repair mode off on the tree of pid " + pid + " failed: " + e.getMessage());
            return "; WARNING: its connections dumped with --tcp-established may be lost (taking them out of CRIU's"
                    + " repair mode failed: " + e.getMessage() + ")";
        }
    }

    private static String tcpNote(DumpJob job, Barrier barrier) {
        if (!job.options().tcpEstablished()) {
            return "";
        }
        String note = barrier.tcpNote;
        return note != null ? note : "; WARNING: its connections dumped with --tcp-established may be lost (CRIU"
                + " resumed it before ferry could take them out of CRIU's repair mode)";
    }

    private static String cause(PageServerLink pages) {
        for (CompletableFuture<Void> f : List.of(pages.failed(), pages.complete())) {
            if (f.isCompletedExceptionally()) {
                try {
                    f.getNow(null);
                } catch (RuntimeException e) {
                    Throwable c = e.getCause() != null ? e.getCause() : e;
                    return String.valueOf(c.getMessage());
                }
            }
        }
        return "up";
    }

    /** SIGKILL to the tree below {@code pid} and to {@code pid}; frozen (ptrace-stopped) tasks die too. */
    static void killTree(long pid) {
        List<ProcessHandle> tree = ProcessHandle.of(pid).map(h -> h.descendants().toList()).orElse(List.of());
        try {
            Processes.kill(pid, Processes.SIGKILL);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "killing " + pid + ": " + e.getMessage());
        }
        for (ProcessHandle h : tree) {
            h.destroyForcibly();
        }
    }

    /** The post-dump barrier of a lazy dump: sends the images CRIU wrote, commits, answers the hook. */
    private static final class Barrier implements Runnable {
        private final ActionScriptGate hook;
        private final Path images;
        private final ImageSink sink;
        private final DumpJob job;
        private final DumpListener events;
        private final CompletableFuture<Void> done = new CompletableFuture<>();
        volatile boolean reached;
        volatile boolean answered;
        volatile boolean committed;
        /** What became of the --tcp-established connections when the link made CRIU resume the source; or null. */
        volatile String tcpNote;
        volatile DumpCommitException failure;
        volatile long bytes;
        volatile int count;

        Barrier(ActionScriptGate hook, Path images, ImageSink sink, DumpJob job, DumpListener events) {
            this.hook = hook;
            this.images = images;
            this.sink = sink;
            this.job = job;
            this.events = events;
        }

        void join() {
            try {
                done.get(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                // reported through the fields
            }
        }

        @Override
        public void run() {
            try {
                if (hook.awaitRequest().isEmpty()) {
                    return;
                }
                reached = true;
                events.phase(DumpListener.PHASE_POST_DUMP);
                boolean ok = false;
                try {
                    ok = commit();
                } catch (IOException | RuntimeException e) {
                    failure = new DumpCommitException("snapshot " + job.snapshot() + ": sending the images failed: "
                            + e.getMessage(), e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure = new DumpCommitException("snapshot " + job.snapshot() + ": interrupted", e);
                } finally {
                    committed = ok;
                    answered = true;
                    try {
                        hook.answer(ok);
                    } catch (IOException e) {
                        LOG.log(Level.WARNING, "answering the post-dump hook failed: " + e.getMessage());
                    }
                }
                if (ok) {
                    events.phase(DumpListener.PHASE_COMMITTED);
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "reading the post-dump request failed: " + e.getMessage());
            } finally {
                done.complete(null);
            }
        }

        private boolean commit() throws IOException, InterruptedException {
            long deadline = System.nanoTime() + job.commitTimeout().toNanos();
            List<ImageDigest> manifest = new ArrayList<>();
            List<Path> files;
            try (Stream<Path> s = Files.list(images)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
            long total = 0;
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (ImageName.problem(name) != null) {
                    continue;
                }
                ImageName image = ImageName.of(name);
                events.imageOpened(image);
                ImageOutput out = sink.open(image);
                CRC32C crc = new CRC32C();
                long size = 0;
                try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ)) {
                    while (true) {
                        buf.clear();
                        int n = in.read(buf);
                        if (n < 0) {
                            break;
                        }
                        buf.flip();
                        crc.update(buf.duplicate());
                        out.write(buf);
                        size += n;
                        events.bytes(n);
                    }
                }
                out.finish(size, (int) crc.getValue());
                ImageDigest digest = new ImageDigest(image, size, (int) crc.getValue());
                manifest.add(digest);
                events.imageFinished(digest);
                total += size;
            }
            bytes = total;
            count = manifest.size();
            events.phase(DumpListener.PHASE_COMMIT);
            CompletableFuture<Void> future = sink.commit(manifest);
            try {
                try {
                    future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    if (future.cancel(false) || future.isDone()) {
                        throw e;
                    }
                    future.get(CommitBarrier.FINISHING_GRACE.toNanos(), TimeUnit.NANOSECONDS);
                }
                return true;
            } catch (TimeoutException e) {
                failure = new DumpCommitException("snapshot " + job.snapshot() + ": the target did not confirm the commit"
                        + " within the commit timeout (" + job.commitTimeout() + ")", e);
            } catch (ExecutionException | CancellationException e) {
                Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                failure = new DumpCommitException("snapshot " + job.snapshot() + ": the target refused the commit: "
                        + cause.getMessage(), cause);
            }
            return false;
        }
    }
}
