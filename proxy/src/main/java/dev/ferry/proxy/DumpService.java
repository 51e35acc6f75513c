package dev.ferry.proxy;

import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuHints;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuOptionsMapping;
import dev.ferry.criu.CriuStatsFile;
import dev.ferry.protocol.control.CriuStats;
import dev.ferry.dump.DumpEngine;
import dev.ferry.dump.DumpJob;
import dev.ferry.dump.DumpListener;
import static dev.ferry.dump.DumpListener.PHASE_COMMITTED;
import dev.ferry.dump.DumpOutcome;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.DumpRequest;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.message.MigrateSpec;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;

import java.io.IOException;
import java.time.Duration;
import io.netty.handler.ssl.SslContext;

import java.time.Duration;
import java.util.Optional;

import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Answers {@code ferry dump --remote} requests from the control socket: connects to the cache (before
 * anything is frozen), announces the snapshot, runs the dump engine with the link as its sink, and
 * turns the outcome into a result with an exit code. Every failure leaves the source running: either
 * CRIU never froze it, or the post-dump barrier failed and CRIU resumed it.
 */
final class DumpService implements ControlServer.Handler {

    private static final Logger LOG = Logger.getLogger(DumpService.class.getName());
    private static final long PROGRESS_EVERY_BYTES = 64L << 20;
    /** Progress also goes out this often while bytes flow, so that a client's rate and ETA stay live. */
    private static final long PROGRESS_EVERY_NANOS = 250_000_000L;
    /** Dumps that fail for a transient CRIU reason ({@link CriuHints#isTransientDumpFailure}) are tried this often. */
    private static final int TRANSIENT_ATTEMPTS = 3;
    /** The least time given the image-cache to answer SNAPSHOT_BEGIN (its preflight and memory admission). */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    /** How long a retry waits for the cache to drop its previous attempt's snapshot of the same name. */
    private static final Duration SAME_NAME_WAIT = Duration.ofSeconds(3);

    private final ProxyConfig config;
    private final DumpEngine engine;
    private final EventLoopGroup group;
    private final Class<? extends Channel> channelClass;
    private final SslContext tls;
    private final MigrationSource migrations;
    private final ProxyEvents events;
    /** One permit per dump or migration that may run at once (--max-concurrent-dumps); fair: first come, first run. */
    private final Semaphore running;
    /** Where post-copy dumps put CRIU's non-page images while they are sent: tmpfs, never disk. */
    static final java.nio.file.Path LAZY_DIR = java.nio.file.Path.of("/dev/shm/ferry");
    private volatile dev.ferry.dump.LazyDumpEngine lazyEngine;
    /** {@code ferry dump --lazy}: what the target's restore may take once it began, on top of the wait for it. */
    static final Duration LAZY_RESTORE_ALLOWANCE = Duration.ofMinutes(2);
    /** {@code ferry dump --lazy}: the snapshot is committed, the tree frozen, its pages served until a restore fetches them. */
    static final String PHASE_SERVING = ProxyConfig.PHASE_SERVING;

    /** @param tls the client TLS context towards the cache, or null for plain TCP */
    DumpService(ProxyConfig config, DumpEngine engine, EventLoopGroup group, Class<? extends Channel> channelClass,
                SslContext tls) {
        this(config, engine, group, channelClass, tls, ProxyEvents.NONE);
    }

    /** @param events told about links, bytes, images and outcomes (metrics) */
    DumpService(ProxyConfig config, DumpEngine engine, EventLoopGroup group, Class<? extends Channel> channelClass,
                SslContext tls, ProxyEvents events) {
        this.events = events;
        this.tls = tls;
        this.config = config;
        this.engine = engine;
        this.group = group;
        this.channelClass = channelClass;
        this.migrations = new MigrationSource(config, this);
        this.running = new Semaphore(config.maxConcurrentDumps(), true);
    }

    /** Enables {@code ferry migrate --lazy}. */
    DumpService withLazy(dev.ferry.dump.LazyDumpEngine engine) {
        this.lazyEngine = engine;
        return this;
    }

    @Override
    public void handle(Request request, ControlSession session) {
        if (request.hasDump()) {
            session.result(dump(request.getDump(), session));
        } else if (request.hasMigrate()) {
            session.result(migrations.migrate(request.getMigrate(), session));
        } else if (request.hasCheck()) {
            session.result(check(request.getCheck()));
        } else {
            session.result(Results.failure(ExitCode.USAGE, "the image-proxy takes dump and migrate requests (found: "
                    + request.getKindCase() + "); send restores to the image-cache on the target node"));
        }
    }

    /** {@code ferry check --target}: says hello to the cache, asking for its facts, and hands them back. */
    private Result check(dev.ferry.protocol.control.CheckRequest r) {
        String host = r.getToHost().isEmpty() ? config.cacheHost() : r.getToHost();
        int port = r.getToPort() == 0 ? config.cachePort() : r.getToPort();
        // the cache probes CRIU once for the answer: allow for that on top of the connect timeout
        Duration timeout = config.connectTimeout().plusSeconds(30);
        try (CacheLink link = CacheLink.connect(group, channelClass, host, port, config.node(), timeout, tls, true)) {
            var ack = link.helloAck();
            if (ack == null || ack.facts() == null) {
                return Results.failure(ExitCode.PEER_UNREACHABLE, "the image-cache at " + link.target() + " answered"
                        + " the hello without its facts (expected: a ferry image-cache that knows `ferry check`;"
                        + " upgrade it)");
            }
            return Result.newBuilder().setOk(true).setExitCode(ExitCode.OK.code()).setTarget(link.target())
                    .setMessage("image-cache " + ack.node() + " at " + link.target() + " answered")
                    .setTargetFacts(ack.facts()).build();
        } catch (CacheLinkException e) {
            return Results.failure(ExitCode.PEER_UNREACHABLE, e.getMessage());
        }
    }

    private Result dump(DumpRequest r, ControlSession session) {
        String problem = SnapshotName.problem(r.getSnapshot());
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, problem);
        }
        SnapshotName name = SnapshotName.of(r.getSnapshot());
        long pid = r.getPid();
        if (pid <= 0 || !ProcessMemory.exists(pid)) {
            return Results.failure(ExitCode.USAGE, "-t " + pid + ": no such process on this node (expected: the PID of"
                    + " the root of a running process tree, as seen from the image-proxy's PID namespace)");
        }
        CriuOptions options;
        try {
            options = CriuOptionsMapping.from(r.getCriu());
        } catch (IllegalArgumentException e) {
            return Results.failure(ExitCode.USAGE, e.getMessage());
        }
        if (!r.getLazy()) {
            return run(new Plan(name, pid, options, config.cacheHost(), config.cachePort(), null, Duration.ZERO, null,
                    false, Duration.ZERO), session, DumpListener.NONE);
        }
        if (r.getCriu().getLeaveRunning()) {
            return Results.failure(ExitCode.USAGE, "--leave-running with --lazy: a post-copy dump keeps the tree frozen"
                    + " while the target fetches its pages and ends it after the last one (expected: one of the two;"
                    + " use `ferry dump --leave-running` without --lazy to copy a process)");
        }
        String lazyProblem = LazyPreflight.problem();
        if (lazyProblem != null) {
            LOG.warning(() -> "snapshot " + name + ": post-copy dump refused: " + lazyProblem);
            return Results.failure(ExitCode.REFUSED, "dump of pid " + pid + " into " + name + " refused before anything"
                    + " was frozen: " + lazyProblem + "; process " + pid + " was not touched");
        }
        Duration lazyTimeout = r.getLazyTimeoutMillis() > 0 ? Duration.ofMillis(r.getLazyTimeoutMillis())
                : MigrationSource.DEFAULT_LAZY_TIMEOUT;
        // the source stays frozen while it waits for the restore, and while the target restores
        return run(new Plan(name, pid, options, config.cacheHost(), config.cachePort(), null,
                lazyTimeout.plus(LAZY_RESTORE_ALLOWANCE), null, true, lazyTimeout), session, DumpListener.NONE);
    }

    /**
     * One dump or migration: what to dump, where to, and for a migration what the target does after the commit.
     *
     * @param migrate      the target's part of a migration, or null for a plain dump
     * @param restoreTime  how much longer than the commit timeout the source may stay frozen (the target's restore)
     * @param handOver     for a migration, what the source does once CRIU has ended it; null for a plain dump
     */
    record Plan(SnapshotName name, long pid, CriuOptions options, String host, int port, MigrateSpec migrate,
                Duration restoreTime, HandOver handOver, boolean lazy, Duration lazyTimeout) {
        Plan {
            if ((migrate == null) != (handOver == null)) {
                throw new IllegalArgumentException("a migration needs a hand-over, a plain dump has none");
            }
        }

        String target() {
            return host + ":" + port;
        }

        /** {@code ferry dump --lazy}: post-copy whose restore is a later {@code ferry restore --lazy} on the target. */
        boolean lazyDump() {
            return lazy && migrate == null;
        }
    }

    /** The source's last step of a migration, after CRIU exited 0 having ended the source; builds the result. */
    @FunctionalInterface
    interface HandOver {
        Result handOver(Plan plan, CacheLink link, DumpOutcome outcome);
    }

    /** Runs the plan, again after a transient CRIU failure ({@link CriuHints#isTransientDumpFailure}). */
    Result run(Plan plan, ControlSession session, DumpListener extra) {
        if (!running.tryAcquire()) {
            int max = config.maxConcurrentDumps();
            LOG.info(() -> "snapshot " + plan.name() + ": waiting, " + max + " dumps already run (--max-concurrent-dumps)");
            session.progress("queued", 0, 0, max + " dumps already run on this image-proxy (--max-concurrent-dumps);"
                    + " process " + plan.pid() + " runs on untouched while this one waits its turn");
            try {
                running.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Results.failure(ExitCode.FAILURE, "snapshot " + plan.name() + ": interrupted while waiting for"
                        + " its turn; process " + plan.pid() + " was not touched");
            }
        }
        try {
            return runAdmitted(plan, session, extra);
        } finally {
            running.release();
        }
    }

    private Result runAdmitted(Plan plan, ControlSession session, DumpListener extra) {
        SnapshotName name = plan.name();
        long pid = plan.pid();
        Result result = null;
        for (int attempt = 1; attempt <= TRANSIENT_ATTEMPTS; attempt++) {
            result = attempt(plan, session, extra, attempt > 1);
            if (result.getExitCode() != ExitCode.CRIU_FAILED.code()
                    || !CriuHints.isTransientDumpFailure(result.getCriuLogExcerptList())
                    || !ProcessMemory.exists(pid) || attempt == TRANSIENT_ATTEMPTS) {
                break;
            }
            long pause = ThreadLocalRandom.current().nextLong(50, 300);
            int next = attempt + 1;
            LOG.warning(() -> "snapshot " + name + ": CRIU's parasite collided with another dump on /crtools-proc;"
                    + " CRIU resumed pid " + pid + ", trying again in " + pause + " ms (attempt " + next + " of "
                    + TRANSIENT_ATTEMPTS + ")");
            session.progress("retry", 0, 0, "CRIU collided with another dump on /crtools-proc; trying again");
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return result;
    }

    /** The cache refused SNAPSHOT_BEGIN (or the link failed before READY): nothing was frozen. */
    private Result refusedAtBegin(CacheLink link, IOException e, SnapshotName name, long pid) {
        link.close();
        events.linkClosed();
        events.snapshotRefused(e instanceof CacheRefusedException refused ? refused.code() : null);
        if (e instanceof CacheRefusedException refused) {
            events.error(refused.code());
        }
        ExitCode code = e instanceof CacheRefusedException refused ? exitFor(refused.code()) : ExitCode.PEER_UNREACHABLE;
        LOG.warning(() -> "snapshot " + name + ": " + e.getMessage());
        return Results.failure(code, "snapshot " + name + ": " + e.getMessage() + "; process " + pid + " was not touched");
    }

    /** @param again a retry after CRIU's collision: the cache may not have dropped the last attempt's snapshot yet */
    private Result attempt(Plan plan, ControlSession session, DumpListener extra, boolean again) {
        SnapshotName name = plan.name();
        long pid = plan.pid();
        long expected = ProcessMemory.treeRss(pid);
        session.expectBytes(expected);
        session.progress("connect", 0, 0, "connecting to the image-cache at " + plan.target());
        CacheLink opened;
        long sameNameUntil = System.nanoTime() + SAME_NAME_WAIT.toNanos();
        while (true) {
            CacheLink l;
            try {
                l = CacheLink.connect(group, channelClass, plan.host(), plan.port(), config.node(),
                        config.connectTimeout(), tls);
            } catch (CacheLinkException e) {
                LOG.warning(() -> "snapshot " + name + ": " + e.getMessage());
                events.snapshotRefused(null);
                return Results.failure(ExitCode.PEER_UNREACHABLE, e.getMessage() + "; process " + pid + " was not touched");
            }
            events.linkOpened();
            LOG.info(() -> "snapshot " + name + ": connected to the image-cache at " + l.target() + ", announcing");
            try {
                // the target's preflight and admission run before SNAPSHOT_READY; nothing is frozen while we wait, and
                // under many concurrent migrations the target may take longer than a connect to answer
                // post-copy sends no lazy pages as images: announce what the cache will hold, not the process's size
                long announced = plan.lazy() ? Math.min(expected, (expected >> 6) + (16L << 20)) : expected;
                l.begin(new SnapshotBegin(name, announced, pid, config.criu().version(), plan.migrate(),
                        config.retryFor().toMillis(), plan.lazyDump(), plan.lazyDump() ? plan.lazyTimeout().toMillis() : 0),
                        max(config.connectTimeout(), READY_TIMEOUT));
                opened = l;
                break;
            } catch (IOException e) {
                boolean ownLeftover = again && e instanceof CacheRefusedException r && r.code() == ErrorCode.SNAPSHOT_EXISTS
                        && System.nanoTime() - sameNameUntil < 0;
                if (!ownLeftover) {
                    return refusedAtBegin(l, e, name, pid);
                }
                // the previous attempt's connection is closed, but the cache has not seen that yet
                // (ConcurrentMigrationsIT, 16 at once): its snapshot of this name goes with it
                l.close();
                events.linkClosed();
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return Results.failure(ExitCode.FAILURE, "snapshot " + name + ": interrupted while waiting to"
                            + " begin again; process " + pid + " was not touched");
                }
            }
        }
        CacheLink link = opened;
        long started = System.nanoTime();
        LOG.info(() -> "snapshot " + name + ": accepted by the image-cache at " + link.target());
        try (link; ProxyEvents.Closing linkClosed = events::linkClosed) {
            LOG.info(() -> "snapshot " + name + ": dump of pid " + pid + " starting (about " + expected + " bytes) to "
                    + link.target());
            AtomicLong bytes = new AtomicLong();
            AtomicLong reported = new AtomicLong();
            AtomicInteger images = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean acknowledged = new java.util.concurrent.atomic.AtomicBoolean();
            AtomicLong reportedAt = new AtomicLong(System.nanoTime());
            DumpListener listener = new DumpListener() {
                @Override
                public void phase(String reported) {
                    // a migration's commit completes when the target runs the tree: "restored", after "restore"
                    // (post-copy commits at SNAPSHOT_ACK itself: its "restored" comes with SNAPSHOT_RESTORED, as post-copy)
                    String phase = plan.migrate() != null && !plan.lazy() && reported.equals(PHASE_COMMITTED) && acknowledged.get()
                            ? MigrationSource.PHASE_RESTORED : reported;
                    LOG.info(() -> "snapshot " + name + ": " + phase);
                    session.progress(phase, bytes.get(), images.get(), "");
                    extra.phase(phase);
                    if (plan.lazyDump() && phase.equals(PHASE_COMMITTED)) {
                        String serving = servingNotice(plan);
                        LOG.info(() -> "snapshot " + name + ": " + serving);
                        session.progress(PHASE_SERVING, bytes.get(), images.get(), serving);
                    }
                }

                @Override
                public void bytes(long delta) {
                    long now = bytes.addAndGet(delta);
                    events.bytesSent(delta);
                    long last = reported.get();
                    long lastAt = reportedAt.get();
                    boolean due = now - last >= PROGRESS_EVERY_BYTES || System.nanoTime() - lastAt >= PROGRESS_EVERY_NANOS;
                    if (due && reported.compareAndSet(last, now)) {
                        reportedAt.set(System.nanoTime());
                        session.progress("stream", now, images.get(), "");
                    }
                }

                @Override
                public void imageFinished(ImageDigest digest) {
                    images.incrementAndGet();
                    events.imageSent(digest.name());
                }
            };
            link.onReconnect(new CacheLink.ReconnectListener() {
                @Override
                public void reconnecting(String where, int attempt, Duration left) {
                    events.reconnect();
                    String line = "link to cache lost at " + where + "; reconnecting (attempt " + attempt + ", "
                            + String.format("%.1f", left.toMillis() / 1000.0) + "s left)";
                    LOG.warning(() -> "snapshot " + name + ": " + line);
                    session.progress("reconnect", bytes.get(), images.get(), line);
                }

                @Override
                public void reattached(int attempts, long resent) {
                    session.progress("stream", bytes.get(), images.get(), "link to cache restored after " + attempts
                            + " attempt(s); " + resent + " bytes sent again");
                }
            });
            if (plan.migrate() != null) {
                link.onAcknowledged(() -> {
                    listener.phase(PHASE_COMMITTED);
                    acknowledged.set(true);
                    listener.phase(MigrationSource.PHASE_RESTORE);
                });
            }
            DumpJob job = new DumpJob(pid, name, plan.options(), config.commitTimeout().plus(plan.restoreTime()),
                    config.dumpTimeout().plus(plan.restoreTime()));
            DumpOutcome outcome;
            if (plan.lazy()) {
                outcome = lazyDump(plan, job, link, listener, session, expected);
            } else {
                outcome = engine.dump(job, link, listener);
            }
            Optional<CriuStats> stats = CriuStatsFile.read(outcome.workDir());
            events.snapshotCommitted(outcome.duration());
            stats.filter(CriuStats::hasDump).ifPresent(st -> events.frozen(Duration.ofNanos(st.getDump().getFrozenTimeUs() * 1000)));
            if (plan.migrate() != null) {
                Result handedOver = plan.handOver().handOver(plan, link, outcome);
                return stats.isPresent() ? handedOver.toBuilder().setCriuStats(stats.get()).build() : handedOver;
            }
            if (plan.lazyDump()) {
                Result.Builder done = lazyDumped(plan, link, outcome);
                stats.ifPresent(done::setCriuStats);
                return done.build();
            }
            LOG.info(() -> "snapshot " + name + ": dump done, " + outcome.images() + " images, " + outcome.bytes()
                    + " bytes in " + outcome.duration().toMillis() + " ms, acknowledged by " + link.target()
                    + stats.filter(CriuStats::hasDump).map(st -> "; CRIU kept the source frozen for "
                            + st.getDump().getFrozenTimeUs() / 1000 + " ms").orElse(""));
            Result.Builder done = Results.success("dumped pid " + pid + " into " + name + " on " + link.target() + ": "
                            + outcome.images() + " images, " + outcome.bytes() + " bytes, verified");
            stats.ifPresent(done::setCriuStats);
            return done
                    .setBytes(outcome.bytes())
                    .setImages(outcome.images())
                    .setDurationMillis(outcome.duration().toMillis())
                    .setCriuLogPath(String.valueOf(outcome.logPath()))
                    .build();
        } catch (IOException | RuntimeException e) {
            link.abort(e.getMessage());
            Result result = failure(name, pid, link, e);
            events.snapshotAborted(Duration.ofNanos(System.nanoTime() - started));
            if (link.failure() instanceof CacheRefusedException refused) {
                events.error(refused.code());
            }
            LOG.warning(() -> "snapshot " + name + ": dump failed after " + (System.nanoTime() - started) / 1_000_000
                    + " ms: " + result.getMessage());
            return result;
        }
    }

    /**
     * A post-copy dump: the lazy engine with the link's page-server channel; while pages cross, a reporter thread
     * sends "post-copy" progress (page bytes arrived, about how many are still on the source, the rate) and counts
     * them in the metrics.
     */
    private DumpOutcome lazyDump(Plan plan, DumpJob job, CacheLink link, DumpListener listener, ControlSession session,
                                 long expected) throws IOException {
        dev.ferry.dump.LazyDumpEngine lazy = lazyEngine;
        if (lazy == null) {
            throw new IOException("this image-proxy does not do post-copy (--lazy)");
        }
        java.util.concurrent.atomic.AtomicLong imageBytes = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        DumpListener counting = new DumpListener() {
            @Override
            public void phase(String phase) {
                listener.phase(phase);
            }

            @Override
            public void imageOpened(dev.ferry.protocol.image.ImageName name) {
                listener.imageOpened(name);
            }

            @Override
            public void bytes(long delta) {
                imageBytes.addAndGet(delta);
                listener.bytes(delta);
            }

            @Override
            public void imageFinished(ImageDigest digest) {
                listener.imageFinished(digest);
            }
        };
        Thread reporter = new Thread(() -> reportLazy(plan, link, session, expected, imageBytes, done),
                "ferry-lazy-progress-" + plan.name());
        reporter.setDaemon(true);
        reporter.start();
        try {
            return lazy.dump(job, link, link.pageServer(), counting, plan.lazyTimeout());
        } finally {
            done.set(true);
            reporter.interrupt();
        }
    }

    private void reportLazy(Plan plan, CacheLink link, ControlSession session, long expected,
                            java.util.concurrent.atomic.AtomicLong imageBytes, java.util.concurrent.atomic.AtomicBoolean done) {
        long last = 0;
        long lastAt = System.nanoTime();
        while (!done.get()) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                break;
            }
            long now = link.lazyBytes();
            if (now == last) {
                continue;
            }
            long at = System.nanoTime();
            events.lazyBytesSent(now - last);
            double rate = (now - last) / Math.max(1e-9, (at - lastAt) / 1e9);
            long remote = Math.max(0, expected - imageBytes.get() - now);
            session.progress(MigrationSource.PHASE_POST_COPY, now, 0, String.format(
                    "post-copy: %d page bytes arrived, about %d still on the source, %.1f MB/s", now, remote, rate / 1e6));
            last = now;
            lastAt = at;
        }
        long rest = link.lazyBytes() - last;
        if (rest > 0) {
            events.lazyBytesSent(rest);
        }
    }

    /** What {@code ferry dump --lazy} tells its user once the snapshot is committed and the tree frozen. */
    static String servingNotice(Plan plan) {
        return "snapshot " + plan.name() + " is on the image-cache at " + plan.target() + "; process " + plan.pid()
                + " is frozen here and its memory is served from here. Now run `ferry restore -D " + plan.name()
                + " --remote --lazy` on the target within " + plan.lazyTimeout().toSeconds() + " s (--lazy-timeout);"
                + " if none begins by then, process " + plan.pid() + " runs on here";
    }

    /**
     * The result of a {@code ferry dump --lazy} whose restore fetched the last page: CRIU has ended the source, as
     * after a plain dump. {@code lazy_ms} runs from the target's tree running to now, as in {@code migrate --lazy}.
     */
    private static Result.Builder lazyDumped(Plan plan, CacheLink link, DumpOutcome outcome) {
        var restored = link.restored().getNow(null);
        long restoredPid = restored == null ? 0 : restored.pid();
        long lazyBytes = link.lazyBytes();
        long lazyMillis = link.restoredAt() == 0 ? 0 : Math.max(0, (System.nanoTime() - link.restoredAt()) / 1_000_000);
        LOG.info(() -> "snapshot " + plan.name() + ": post-copy dump done, restored on " + link.target() + " as pid "
                + restoredPid + ", " + lazyBytes + " page bytes followed in " + lazyMillis + " ms; pid " + plan.pid()
                + " ended here");
        return Results.success("dumped pid " + plan.pid() + " into " + plan.name() + " on " + link.target() + ": "
                        + outcome.images() + " images, " + outcome.bytes() + " bytes, verified; restored there as pid "
                        + restoredPid + ", post-copy: " + lazyBytes + " page bytes followed in " + lazyMillis
                        + " ms; process " + plan.pid() + " ended here")
                .setBytes(outcome.bytes())
                .setImages(outcome.images())
                .setDurationMillis(outcome.duration().toMillis())
                .setCriuLogPath(String.valueOf(outcome.logPath()))
                .setRestoredPid(restoredPid)
                .setTarget(plan.target())
                .setLazyBytes(lazyBytes)
                .setLazyMillis(lazyMillis);
    }

    /** The result for a failed dump: the link's failure comes first (it is why CRIU failed), then CRIU's. */
    private static Result failure(SnapshotName name, long pid, CacheLink link, Exception e) {
        if (e instanceof dev.ferry.dump.LazyRollbackException back) {
            String lock = "";
            try {
                dev.ferry.criu.NetworkLock.removeLeftovers(back.logPath());
            } catch (IOException le) {
                lock = "; WARNING: removing CRIU's network lock failed, remove it by hand: " + le.getMessage();
            }
            IOException linkFailure = link.failure();
            ExitCode code = linkFailure instanceof CacheRefusedException refused ? exitFor(refused.code())
                    : linkFailure instanceof CacheLink.NoRestoreException ? ExitCode.TIMEOUT : ExitCode.PEER_UNREACHABLE;
            String why = linkFailure instanceof CacheLink.NoRestoreException
                    ? linkFailure.getMessage() + "; nothing was handed out, so CRIU resumed the source"
                    : (linkFailure != null ? linkFailure.getMessage() + "; " : "") + back.getMessage();
            return Results.failure(code, "snapshot " + name + ": " + why + "; process " + pid + " keeps running"
                    + lock).toBuilder()
                    .setCriuLogPath(String.valueOf(back.logPath())).build();
        }
        if (e instanceof dev.ferry.dump.LazyPagesException lazy) {
            String lock = "";
            try {
                // the post-dump hook said ok, so CRIU left its network lock for the hand-over that never came
                dev.ferry.criu.NetworkLock.removeLeftovers(lazy.logPath());
            } catch (IOException le) {
                lock = "; WARNING: removing CRIU's network lock failed, remove it by hand: " + le.getMessage();
            }
            return Results.failure(ExitCode.FAILURE, "snapshot " + name + ": post-copy failed after " + link.lazyBytes()
                    + " page bytes had crossed: " + lazy.getMessage()
                    + ". The process already ran on the target while some of its memory was still on the source;"
                    + " without those pages it cannot go on, so it was stopped on both nodes (the target's copy and"
                    + " the stale source, pid " + pid + "). This is the trade-off of --lazy (docs/migrate.md);"
                    + " without --lazy the source runs on after any failure" + lock).toBuilder()
                    .setCriuLogPath(String.valueOf(lazy.logPath())).build();
        }
        String source = ProcessMemory.exists(pid)
                ? "; CRIU rolled back and process " + pid + " keeps running"
                : "; process " + pid + " is no longer there";
        IOException linkFailure = link.failure();
        Result.Builder b;
        if (linkFailure instanceof CacheRefusedException refused) {
            b = Results.failure(exitFor(refused.code()), "snapshot " + name + ": " + refused.getMessage() + source).toBuilder();
        } else if (linkFailure != null && !(linkFailure.getMessage() != null && linkFailure.getMessage().startsWith("snapshot aborted"))) {
            b = Results.failure(ExitCode.PEER_UNREACHABLE, "snapshot " + name + ": " + linkFailure.getMessage() + source).toBuilder();
        } else if (e instanceof CriuException ce) {
            b = Results.failure(ExitCode.CRIU_FAILED, "snapshot " + name + ": criu dump failed (exit " + ce.exitCode() + ")"
                    + source + CriuHints.advice(ce.logExcerpt())).toBuilder();
        } else if (e instanceof java.util.concurrent.TimeoutException || String.valueOf(e.getMessage()).contains("timed out")) {
            b = Results.failure(ExitCode.TIMEOUT, "snapshot " + name + ": " + e.getMessage() + source).toBuilder();
        } else {
            b = Results.failure(ExitCode.FAILURE, "snapshot " + name + ": " + e.getMessage() + source).toBuilder();
        }
        Throwable t = e;
        while (t != null) {
            if (t instanceof CriuException ce) {
                b.addAllCriuLogExcerpt(ce.logExcerpt()).setCriuLogPath(String.valueOf(ce.logPath()));
                if (ce.logPath() != null) {
                    CriuStatsFile.read(ce.logPath().getParent()).ifPresent(b::setCriuStats);
                }
                break;
            }
            t = t.getCause();
        }
        return b.build();
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    static ExitCode exitFor(ErrorCode code) {
        return switch (code) {
            case INTEGRITY, MANIFEST_MISMATCH -> ExitCode.INTEGRITY;
            case SNAPSHOT_EXISTS, BAD_NAME, RESOURCE_LIMIT, PREFLIGHT_FAILED, UNSUPPORTED_VERSION -> ExitCode.REFUSED;
            case RESTORE_FAILED -> ExitCode.CRIU_FAILED;
            default -> ExitCode.PEER_UNREACHABLE;
        };
    }

}
