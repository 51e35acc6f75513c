package dev.ferry.cache;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuHints;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuOptionsMapping;
import dev.ferry.criu.RecentCheck;
import dev.ferry.criu.StateSupport;
import dev.ferry.protocol.control.NodeFacts;
import dev.ferry.net.ServiceAddress;
import dev.ferry.posix.Processes;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotHeld;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.message.MigrateSpec;
import dev.ferry.restore.JobTerminal;
import dev.ferry.restore.RestoreEngine;
import dev.ferry.restore.RestoreJob;
import dev.ferry.restore.RestoreListener;
import dev.ferry.restore.RestoreOutcome;
import dev.ferry.restore.ResumeGate;
import io.netty.channel.Channel;
import io.netty.channel.ChannelId;

import java.io.IOException;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/**
 * The target's half of {@code ferry migrate}. Before the source is frozen ({@link #preflight}, on SNAPSHOT_BEGIN):
 * this node's CRIU has the source's version, {@code criu check} passes, the restore options are valid, and the
 * service address is not already assigned here. After the verified commit ({@link #restoreAfterCommit}, on a
 * thread of its own): add the service address quietly and restore. At CRIU's post-restore the tree is restored
 * but has not run and the network lock still holds: answer SNAPSHOT_HELD and wait for the proxy's SNAPSHOT_RESUME
 * ({@link #resume}), which it sends only while the source is still frozen. With it, CRIU resumes the tree; then
 * announce the address (gratuitous ARP) and answer SNAPSHOT_RESTORED. Without it (the connection closed, or
 * {@link #RESUME_TIMEOUT} passed) CRIU kills the tree before it ever ran. On any failure remove the address again
 * and answer ERROR RESTORE_FAILED, so the proxy makes CRIU resume the source. The snapshot is dropped either way:
 * after a failed migration the source runs on and the images are stale.
 *
 * <p>If the connection is gone after RESUME, when CRIU has resumed the tree, the proxy has made CRIU resume the
 * source too; the restored tree is then killed and the address removed. (Should the connection break in the
 * instant after SNAPSHOT_RESTORED was written, both may run; see docs/migrate.md.)
 *
 * <p>Ownership: owns its restore threads and the table of held trees; {@link #close} stops taking work and waits
 * briefly for running restores.
 */
final class MigrationTarget implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(MigrationTarget.class.getName());
    private static final Duration DEFAULT_RESTORE_TIMEOUT = Duration.ofMinutes(2);
    /** How long a restored tree is held at post-restore waiting for SNAPSHOT_RESUME before it is killed unrun. */
    static final Duration RESUME_TIMEOUT = Duration.ofSeconds(30);
    /**
     * How long a passing {@code criu check} stands for the next preflights: the preflight runs on the receiving event
     * loop, and sixteen migrations arriving at once would otherwise stall it (and the snapshots it streams) for
     * sixteen runs of CRIU.
     */
    static final Duration CHECK_VALID_FOR = Duration.ofSeconds(30);

    /** A held tree: the connection whose proxy may resume it, and its snapshot. */
    private record HeldKey(ChannelId channel, SnapshotName snapshot) { }

    private final ConcurrentMap<HeldKey, CompletableFuture<Void>> held = new ConcurrentHashMap<>();

    private final SnapshotStore store;
    private final AddressJournal journal;
    private final RestoreEngine engine;
    private final Criu criu;
    private final RecentCheck criuCheck;
    private final String node;
    private final AtomicReference<CompletableFuture<NodeFacts>> facts = new AtomicReference<>();
    private final CacheEvents events;
    private final LazyRestore.Tunnels tunnels = new LazyRestore.Tunnels();
    private final LazySnapshots lazySnapshots;
    private volatile java.nio.file.Path lazyWork;
    /** The post-copy restore's next {@code criu swrk}, started at the preflight, before the source is frozen. */
    private volatile SpareSwrk spares;
    private final ExecutorService restores = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ferry-migrate-restore");
        t.setDaemon(true);
        return t;
    });

    MigrationTarget(SnapshotStore store, RestoreEngine engine, Criu criu, String node, AddressJournal journal) {
        this(store, engine, criu, node, journal, CacheEvents.NONE);
    }

    /** @param events told about served images and restore outcomes (metrics) */
    MigrationTarget(SnapshotStore store, RestoreEngine engine, Criu criu, String node, AddressJournal journal,
                    CacheEvents events) {
        this.journal = journal;
        this.events = events;
        this.store = store;
        this.engine = engine;
        this.criu = criu;
        this.criuCheck = new RecentCheck(criu, CHECK_VALID_FOR);
        this.node = node;
        this.lazySnapshots = new LazySnapshots(store, this);
    }

    /** The snapshots of {@code ferry dump --lazy} held for their {@code ferry restore --lazy}. */
    LazySnapshots lazySnapshots() {
        return lazySnapshots;
    }

    /** Enables post-copy migrations; CRIU's lazy work files (logs, lazy-pages.socket) go under {@code workRoot}. */
    MigrationTarget withLazy(java.nio.file.Path workRoot) {
        this.spares = new SpareSwrk(criu, workRoot);
        this.lazyWork = workRoot;
        return this;
    }

    /** The page-server tunnels of post-copy migrations, for the receive handler's CHANNEL_* frames. */
    LazyRestore.Tunnels tunnels() {
        return tunnels;
    }

    /**
     * This node's facts for a HELLO_ACK ({@code ferry check --target}): probed once, on a thread of its own (CRIU runs
     * for each feature, ~0.1-0.5 s), then kept. Never runs on an event loop.
     */
    CompletableFuture<NodeFacts> facts() {
        var existing = facts.get();
        if (existing != null) {
            return existing;
        }
        var mine = new CompletableFuture<NodeFacts>();
        if (!facts.compareAndSet(null, mine)) {
            return facts.get();
        }
        Thread probe = new Thread(() -> {
            try {
                mine.complete(StateSupport.nodeFacts(node, criu));
            } catch (RuntimeException e) {
                mine.completeExceptionally(e);
            }
        }, "node-facts");
        probe.setDaemon(true);
        probe.start();
        return mine;
    }

    /** Null if this node can take the migration; otherwise what is wrong and what to do. Blocks ~0.1 s (criu check). */
    String preflight(SnapshotBegin begin) {
        MigrateSpec spec = begin.migrate();
        String version = versionProblem(begin.criuVersion());
        if (version != null) {
            return version;
        }
        try {
            CriuOptionsMapping.from(spec.getRestore());
        } catch (IllegalArgumentException e) {
            return "restore options: " + e.getMessage();
        }
        if (!spec.getMoveIp().isEmpty()) {
            String problem = addressProblem(spec.getMoveIp());
            if (problem != null) {
                return problem;
            }
        }
        try {
            Criu.CheckResult check = criuCheck.check();
            if (!check.ok()) {
                return "`criu check` fails on target " + node + ": " + check.output().strip().replace('\n', ' ')
                        + "; run `ferry check` there";
            }
        } catch (IOException e) {
            return "`criu check` could not run on target " + node + ": " + e.getMessage();
        }
        if (spec.getLazyPages() && spares != null) {
            spares.refill();
        }
        return null;
    }

    /**
     * Null if this node can hold a snapshot of {@code ferry dump --lazy} and later restore it: post-copy enabled, a
     * tmpfs for the images, and the source's CRIU version (its page server must speak this lazy-pages' protocol).
     */
    String lazyPreflight(SnapshotBegin begin) {
        if (lazyWork == null) {
            return "this image-cache does not do post-copy (--lazy)";
        }
        String version = versionProblem(begin.criuVersion());
        String problem = version != null ? version : dev.ferry.criu.CriuWorkDir.tmpfsProblem(LazyRestore.LAZY_DIR);
        if (problem == null) {
            spares.refill();
        }
        return problem;
    }

    private String versionProblem(String sourceVersion) {
        if (sourceVersion.equals(criu.version())) {
            return null;
        }
        return "CRIU versions differ: the source has " + (sourceVersion.isEmpty() ? "an unknown version"
                : sourceVersion) + ", target " + node + " has " + criu.version() + " at " + criu.executable()
                + " (expected: the same version on both nodes, since CRIU's image formats change between versions);"
                + " install the same CRIU on both (scripts/install-criu)";
    }

    private String addressProblem(String moveIp) {
        ServiceAddress address;
        try {
            address = ServiceAddress.parse(moveIp);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        try {
            if (NetworkInterface.getByInetAddress(address.address()) != null) {
                return "--move-ip " + address + ": " + address.ip() + " is already assigned on target " + node
                        + " (expected: an address only the source holds); remove it there or move another address";
            }
            address.deviceForAdding();
        } catch (SocketException e) {
            return "cannot list the target's addresses: " + e.getMessage();
        } catch (IOException e) {
            return "--move-ip " + address + " on target " + node + ": " + e.getMessage();
        }
        return null;
    }

    /**
     * SNAPSHOT_RESUME arrived on {@code channel}: lets its held tree resume. False if no tree of that snapshot is
     * held for that connection (a protocol error of the peer).
     */
    boolean resume(Channel channel, SnapshotName snapshot) {
        CompletableFuture<Void> go = held.get(new HeldKey(channel.id(), snapshot));
        return go != null && go.complete(null);
    }

    /** The gate of one migration's restore: SNAPSHOT_HELD out, then wait for {@link #resume} on the same channel. */
    private ResumeGate gate(SnapshotName name, Channel channel, String peer) {
        return pid -> {
            HeldKey key = new HeldKey(channel.id(), name);
            CompletableFuture<Void> go = new CompletableFuture<>();
            held.put(key, go);
            channel.closeFuture().addListener(f -> go.completeExceptionally(
                    new IOException("the connection to " + peer + " closed")));
            try {
                LOG.info(() -> "snapshot " + name + ": restored as pid " + pid + ", held before it resumes;"
                        + " asking " + peer);
                channel.writeAndFlush(new SnapshotHeld(name, pid));
                go.get(RESUME_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                LOG.info(() -> "snapshot " + name + ": " + peer + " says resume");
                return true;
            } catch (TimeoutException e) {
                notResumed(name, "no SNAPSHOT_RESUME from " + peer + " within " + RESUME_TIMEOUT.toSeconds() + " s");
            } catch (ExecutionException e) {
                notResumed(name, e.getCause().getMessage());
            } finally {
                held.remove(key);
            }
            return false;
        };
    }

    private static void notResumed(SnapshotName name, String why) {
        LOG.warning(() -> "snapshot " + name + ": held restore not resumed: " + why + "; CRIU kills the tree before"
                + " it ran, and the source resumes there");
    }

    /** Restores the committed snapshot on a thread of its own and answers the proxy on {@code channel}. */
    void restoreAfterCommit(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer) {
        restores.execute(() -> restore(snapshot, spec, channel, peer));
    }

    private void restore(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer) {
        if (!store.startRestore(snapshot)) {
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, "snapshot " + snapshot.name()
                    + " is not restorable on target " + node + " (state " + snapshot.state() + ")", snapshot.name().value()));
            return;
        }
        restoreStarted(snapshot, spec, channel, peer, Watcher.NONE);
    }

    /** Who else hears of one restore besides the proxy on the link: {@code ferry restore --lazy}'s control session. */
    interface Watcher {
        Watcher NONE = new Watcher() { };

        /** The restore engine's phase. */
        default void phase(String phase) { }

        /** The tree runs (SNAPSHOT_RESTORED is out); with post-copy, {@code lazy} fetches the rest of its pages. */
        default void running(RestoreOutcome outcome, LazyRestore lazy) { }
    }

    /**
     * What one restore came to.
     *
     * @param outcome   the restore, or null if it failed before the tree ran
     * @param failure   null on success; else why, for people
     * @param criu      the CRIU failure behind {@code failure}, or null
     * @param ran       whether the tree ran here (a failure after that lost it, with post-copy)
     * @param lazyBytes post-copy: page bytes that arrived after the tree resumed
     * @param lazyMillis post-copy: tree running -> last page (or the failure)
     */
    record Verdict(RestoreOutcome outcome, String failure, CriuException criu, boolean ran, long lazyBytes,
                   long lazyMillis) {
        static Verdict failed(String failure, CriuException criu) {
            return new Verdict(null, failure, criu, false, 0, 0);
        }
    }

    /**
     * Restores {@code snapshot}, already RESTORING, as the migration (or post-copy dump) whose source is on
     * {@code channel}: the tree held at post-restore until the proxy's SNAPSHOT_RESUME, SNAPSHOT_RESTORED or ERROR
     * answered there, post-copy's pages awaited. Drops the snapshot at the end, whatever came of it. Runs on the
     * caller's thread.
     */
    Verdict restoreStarted(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer, Watcher watcher) {
        // the proxy says nothing while the target restores, for up to the restore timeout: not idleness
        try (ConnectionGuard.PeerWait waits = ConnectionGuard.peerWaits(channel)) {
            return restoreWaited(snapshot, spec, channel, peer, watcher);
        }
    }

    private Verdict restoreWaited(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer,
                                  Watcher watcher) {
        String name = snapshot.name().value();
        ServiceAddress address = spec.getMoveIp().isEmpty() ? null : ServiceAddress.parse(spec.getMoveIp());
        String device = null;
        long started = System.nanoTime();
        LazyRestore lazy = spec.getLazyPages() && lazyWork != null
                ? new LazyRestore(spares, engine, tunnels, events, channel, snapshot) : null;
        try {
            if (spec.getLazyPages() && lazy == null) {
                throw new IOException("this image-cache does not do post-copy (--lazy)");
            }
            CriuOptions options = CriuOptionsMapping.from(spec.getRestore());
            Duration timeout = spec.getRestoreTimeoutMillis() > 0
                    ? Duration.ofMillis(spec.getRestoreTimeoutMillis()) : DEFAULT_RESTORE_TIMEOUT;
            if (address != null) {
                String dev = address.deviceForAdding();
                journal.record(snapshot.name(), address, dev); // first: a cache that dies now leaves a trace
                device = dev;
                address.addQuietly(device);
                LOG.info(() -> "snapshot " + name + ": added " + address.cidr() + " on " + dev + " quietly");
            }
            LOG.info(() -> "snapshot " + name + ": migration restore starting, " + snapshot.imageCount() + " images, "
                    + snapshot.bytes() + " bytes");
            RestoreJob job = new RestoreJob(snapshot.name(), options, timeout, gate(snapshot.name(), channel, peer));
            RestoreListener listener = new RestoreListener() {
                        @Override
                        public void phase(String phase) {
                            LOG.info(() -> "snapshot " + name + ": migration restore " + phase);
                            watcher.phase(phase);
                        }

                        @Override
                        public void imageServed(dev.ferry.protocol.image.ImageName image, long bytes) {
                            events.imageServed(image, bytes);
                        }
                    };
            RestoreOutcome outcome = lazy == null ? engine.restore(job, snapshot, listener)
                    : lazy.restore(job, listener);
            events.restoreFinished(true, outcome.duration());
            if (!channel.isActive()) {
                LOG.warning(() -> "snapshot " + name + ": restored as pid " + outcome.restoredPid() + ", but the"
                        + " connection to " + peer + " is gone, so the source was resumed there; killing the restored tree");
                killTree(outcome.restoredPid());
                removeQuietly(snapshot.name(), address, device);
                return Verdict.failed("restored as pid " + outcome.restoredPid() + ", but the connection to " + peer
                        + " closed meanwhile, so the source resumed there; the restored tree was killed", null);
            }
            if (address != null) {
                address.announce(device);
            }
            LOG.info(() -> "snapshot " + name + ": migrated, runs as pid " + outcome.restoredPid() + " (restore "
                    + outcome.duration().toMillis() + " ms, " + outcome.bytesServed() + " bytes served)"
                    + (address == null ? "" : "; " + address.ip() + " announced"));
            if (lazy == null) {
                journal.forget(snapshot.name()); // the address belongs to the running tree now
            }
            JobTerminal terminal = outcome.terminal();
            if (terminal != null) {
                LOG.info(() -> "snapshot " + name + ": pid " + outcome.restoredPid() + " runs on " + terminal.slave()
                        + ", its output goes to " + terminal.log());
            }
            channel.writeAndFlush(new SnapshotRestored(snapshot.name(), outcome.restoredPid(),
                    outcome.duration().toMillis(), outcome.bytesServed(),
                    terminal == null ? "" : terminal.slave().toString(),
                    terminal == null ? "" : terminal.log().toString()));
            watcher.running(outcome, lazy);
            if (lazy == null) {
                return new Verdict(outcome, null, null, true, 0, 0);
            }
            long pagesFrom = System.nanoTime();
            String why = awaitPages(lazy, spec, outcome.restoredPid(), snapshot.name(), address, device, peer);
            return new Verdict(outcome, why, null, true, lazy.bytes(), (System.nanoTime() - pagesFrom) / 1_000_000);
        } catch (CriuException e) {
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            removeQuietly(snapshot.name(), address, device);
            LOG.warning(() -> "snapshot " + name + ": migration restore failed: " + e.getMessage());
            String failure = "criu restore on target " + node + " failed (exit " + e.exitCode() + ")"
                    + CriuHints.advice(e.logExcerpt());
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, failure + "\n"
                    + String.join("\n", e.logExcerpt()) + "\nlog on the target: " + e.logPath(), name));
            return Verdict.failed(failure, e);
        } catch (IOException | RuntimeException e) {
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            removeQuietly(snapshot.name(), address, device);
            LOG.warning(() -> "snapshot " + name + ": migration restore failed: " + e);
            String failure = "restore on target " + node + " failed: " + e.getMessage();
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, failure, name));
            return Verdict.failed(failure, null);
        } finally {
            if (lazy != null) {
                lazy.close();
            }
            store.drop(snapshot);
        }
    }

    /**
     * Post-copy, after the tree resumed: waits for {@code criu lazy-pages} to fetch every page. If it cannot (the
     * link or the proxy died, lazy-pages failed, the timeout passed), the tree cannot go on: without those pages it
     * would fault forever or read zeros, so it is killed and the address removed; the proxy, if it still hears us,
     * ends the stale source. See docs/migrate.md ("Post-copy").
     */
    private String awaitPages(LazyRestore lazy, MigrateSpec spec, long pid, SnapshotName name, ServiceAddress address,
                              String device, String peer) {
        Duration timeout = spec.getLazyTimeoutMillis() > 0 ? Duration.ofMillis(spec.getLazyTimeoutMillis())
                : Duration.ofMinutes(10);
        long start = System.nanoTime();
        String why = lazy.awaitPages(timeout);
        long millis = (System.nanoTime() - start) / 1_000_000;
        if (why == null) {
            journal.forget(name); // every page is here: the address belongs to the running tree now
            LOG.info(() -> "snapshot " + name + ": post-copy done, " + lazy.bytes() + " page bytes in " + millis + " ms");
            return null;
        }
        LOG.warning(() -> "snapshot " + name + ": post-copy FAILED after " + millis + " ms, " + lazy.bytes()
                + " page bytes arrived: " + why + ". The restored tree (pid " + pid + ") cannot run without the pages"
                + " still on the source; killing it and removing its address (post-copy's trade-off)");
        killTree(pid);
        removeQuietly(name, address, device);
        return why;
    }

    /** Removes the address a failed migration added; its journal entry goes only once the address is gone. */
    private void removeQuietly(SnapshotName name, ServiceAddress address, String device) {
        if (address == null || device == null) {
            return;
        }
        try {
            address.remove(device);
            journal.forget(name);
            LOG.info(() -> "snapshot " + name + ": removed " + address.cidr() + " from " + device);
        } catch (IOException e) {
            LOG.warning(() -> "snapshot " + name + ": removing " + address.cidr() + " from " + device + " failed: "
                    + e.getMessage() + "; remove it by hand");
        }
    }

    /** SIGKILL to the restored root and everything below it. */
    private static void killTree(long pid) {
        List<ProcessHandle> tree = ProcessHandle.of(pid).map(p -> p.descendants().toList()).orElse(List.of());
        try {
            Processes.kill(pid, Processes.SIGKILL);
        } catch (IOException e) {
            LOG.warning(() -> "killing restored pid " + pid + ": " + e.getMessage());
        }
        for (ProcessHandle p : tree) {
            p.destroyForcibly();
        }
    }

    @Override
    public void close() {
        if (spares != null) {
            spares.close();
        }
        restores.shutdown();
        try {
            restores.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
