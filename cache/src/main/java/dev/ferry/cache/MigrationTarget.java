package dev.ferry.cache;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuException;
import dev.ferry.criu.CriuHints;
import dev.ferry.criu.CriuOptions;
import dev.ferry.criu.CriuOptionsMapping;
import dev.ferry.net.ServiceAddress;
import dev.ferry.posix.Processes;
import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.codec.ErrorMessage;
import dev.ferry.protocol.codec.SnapshotBegin;
import dev.ferry.protocol.codec.SnapshotRestored;
import dev.ferry.protocol.message.MigrateSpec;
import dev.ferry.restore.RestoreEngine;
import dev.ferry.restore.RestoreJob;
import dev.ferry.restore.RestoreListener;
import dev.ferry.restore.RestoreOutcome;
import io.netty.channel.Channel;

import java.io.IOException;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The target's half of {@code ferry migrate}. Before the source is frozen ({@link #preflight}, on SNAPSHOT_BEGIN):
 * this node's CRIU has the source's version, {@code criu check} passes, the restore options are valid, and the
 * service address is not already assigned here. After the verified commit ({@link #restoreAfterCommit}, on a
 * thread of its own): add the service address quietly, restore, and only if that succeeded announce the address
 * (gratuitous ARP) and answer SNAPSHOT_RESTORED; on failure remove the address again and answer ERROR
 * RESTORE_FAILED, so the proxy makes CRIU resume the source. The snapshot is dropped either way: after a failed
 * migration the source runs on and the images are stale.
 *
 * <p>If the connection to the proxy is gone when the restore succeeds, the proxy has already made CRIU resume the
 * source; the restored tree is then killed and the address removed, so the process never runs twice. (Should the
 * connection break in the instant after SNAPSHOT_RESTORED was written, both may run; see docs/migrate.md.)
 *
 * <p>Ownership: owns its restore threads; {@link #close} stops taking work and waits briefly for running restores.
 */
final class MigrationTarget implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(MigrationTarget.class.getName());
    private static final Duration DEFAULT_RESTORE_TIMEOUT = Duration.ofMinutes(2);

    private final SnapshotStore store;
    private final RestoreEngine engine;
    private final Criu criu;
    private final String node;
    private final CacheEvents events;
    private final ExecutorService restores = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ferry-migrate-restore");
        t.setDaemon(true);
        return t;
    });

    MigrationTarget(SnapshotStore store, RestoreEngine engine, Criu criu, String node) {
        this(store, engine, criu, node, CacheEvents.NONE);
    }

    /** @param events told about served images and restore outcomes (metrics) */
    MigrationTarget(SnapshotStore store, RestoreEngine engine, Criu criu, String node, CacheEvents events) {
        this.events = events;
        this.store = store;
        this.engine = engine;
        this.criu = criu;
        this.node = node;
    }

    /** Null if this node can take the migration; otherwise what is wrong and what to do. Blocks ~0.1 s (criu check). */
    String preflight(SnapshotBegin begin) {
        MigrateSpec spec = begin.migrate();
        if (!begin.criuVersion().equals(criu.version())) {
            return "CRIU versions differ: the source has " + (begin.criuVersion().isEmpty() ? "an unknown version"
                    : begin.criuVersion()) + ", target " + node + " has " + criu.version() + " at " + criu.executable()
                    + " (expected: the same version on both nodes, since CRIU's image formats change between versions);"
                    + " install the same CRIU on both (scripts/install-criu)";
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
            Criu.CheckResult check = criu.check();
            if (!check.ok()) {
                return "`criu check` fails on target " + node + ": " + check.output().strip().replace('\n', ' ')
                        + "; run `ferry check` there";
            }
        } catch (IOException e) {
            return "`criu check` could not run on target " + node + ": " + e.getMessage();
        }
        return null;
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

    /** Restores the committed snapshot on a thread of its own and answers the proxy on {@code channel}. */
    void restoreAfterCommit(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer) {
        restores.execute(() -> restore(snapshot, spec, channel, peer));
    }

    private void restore(StoredSnapshot snapshot, MigrateSpec spec, Channel channel, String peer) {
        String name = snapshot.name().value();
        if (!store.startRestore(snapshot)) {
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, "snapshot " + name
                    + " is not restorable on target " + node + " (state " + snapshot.state() + ")", name));
            return;
        }
        ServiceAddress address = spec.getMoveIp().isEmpty() ? null : ServiceAddress.parse(spec.getMoveIp());
        String device = null;
        long started = System.nanoTime();
        try {
            CriuOptions options = CriuOptionsMapping.from(spec.getRestore());
            Duration timeout = spec.getRestoreTimeoutMillis() > 0
                    ? Duration.ofMillis(spec.getRestoreTimeoutMillis()) : DEFAULT_RESTORE_TIMEOUT;
            if (address != null) {
                device = address.deviceForAdding();
                address.addQuietly(device);
                String dev = device;
                LOG.info(() -> "snapshot " + name + ": added " + address.cidr() + " on " + dev + " quietly");
            }
            LOG.info(() -> "snapshot " + name + ": migration restore starting, " + snapshot.imageCount() + " images, "
                    + snapshot.bytes() + " bytes");
            RestoreOutcome outcome = engine.restore(new RestoreJob(snapshot.name(), options, timeout), snapshot,
                    new RestoreListener() {
                        @Override
                        public void phase(String phase) {
                            LOG.info(() -> "snapshot " + name + ": migration restore " + phase);
                        }

                        @Override
                        public void imageServed(dev.ferry.protocol.image.ImageName image, long bytes) {
                            events.imageServed(image, bytes);
                        }
                    });
            events.restoreFinished(true, outcome.duration());
            if (!channel.isActive()) {
                LOG.warning(() -> "snapshot " + name + ": restored as pid " + outcome.restoredPid() + ", but the"
                        + " connection to " + peer + " is gone, so the source was resumed there; killing the restored tree");
                killTree(outcome.restoredPid());
                removeQuietly(address, device, name);
                return;
            }
            if (address != null) {
                address.announce(device);
            }
            LOG.info(() -> "snapshot " + name + ": migrated, runs as pid " + outcome.restoredPid() + " (restore "
                    + outcome.duration().toMillis() + " ms, " + outcome.bytesServed() + " bytes served)"
                    + (address == null ? "" : "; " + address.ip() + " announced"));
            channel.writeAndFlush(new SnapshotRestored(snapshot.name(), outcome.restoredPid(),
                    outcome.duration().toMillis(), outcome.bytesServed()));
        } catch (CriuException e) {
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            removeQuietly(address, device, name);
            LOG.warning(() -> "snapshot " + name + ": migration restore failed: " + e.getMessage());
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, "criu restore on target " + node
                    + " failed (exit " + e.exitCode() + ")" + CriuHints.advice(e.logExcerpt()) + "\n"
                    + String.join("\n", e.logExcerpt()) + "\nlog on the target: " + e.logPath(), name));
        } catch (IOException | RuntimeException e) {
            events.restoreFinished(false, Duration.ofNanos(System.nanoTime() - started));
            removeQuietly(address, device, name);
            LOG.warning(() -> "snapshot " + name + ": migration restore failed: " + e);
            channel.writeAndFlush(new ErrorMessage(ErrorCode.RESTORE_FAILED, "restore on target " + node + " failed: "
                    + e.getMessage(), name));
        } finally {
            store.drop(snapshot);
        }
    }

    private static void removeQuietly(ServiceAddress address, String device, String name) {
        if (address == null || device == null) {
            return;
        }
        try {
            address.remove(device);
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
        restores.shutdown();
        try {
            restores.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
