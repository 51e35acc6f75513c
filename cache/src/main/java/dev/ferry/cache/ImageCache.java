package dev.ferry.cache;

import dev.ferry.posix.NativeWarmup;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.metrics.DaemonMetrics;
import dev.ferry.protocol.metrics.FerryMeters;
import dev.ferry.protocol.metrics.MetricsConfig;
import dev.ferry.protocol.tls.TlsContexts;
import dev.ferry.restore.JobTerminals;
import dev.ferry.restore.RestoreEngine;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The image-cache daemon: the TCP listener for image-proxies, the snapshot store, the restore engine and
 * the control socket. Lifecycle: {@link #start} → {@link #close} (stop accepting, close connections,
 * drop snapshots, complete {@link #terminationFuture()}); close is idempotent and stops components in
 * reverse order of start.
 */
public final class ImageCache implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ImageCache.class.getName());
    /** How long idle image memory is kept for the next snapshot before it goes back to the system. */
    static final java.time.Duration CHUNKS_KEPT_UNUSED = java.time.Duration.ofMinutes(5);
    /** Under the run dir: the logs of the terminals of restored shell jobs. */
    public static final String TERMINALS_DIR = "terminals";

    private final CacheConfig config;
    private final SnapshotStore store;
    private final EventLoopGroup group;
    private final Channel server;
    private final ControlServer control;
    private final MigrationTarget migrations;
    private final JobTerminals terminals;
    private final DaemonMetrics metrics;
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private boolean closed;

    private ImageCache(CacheConfig config, SnapshotStore store, EventLoopGroup group, Channel server, ControlServer control,
                       MigrationTarget migrations, JobTerminals terminals, DaemonMetrics metrics) {
        this.migrations = migrations;
        this.terminals = terminals;
        this.metrics = metrics;
        this.config = config;
        this.store = store;
        this.group = group;
        this.server = server;
        this.control = control;
    }

    public static ImageCache start(CacheConfig config) throws IOException {
        return start(config, CacheEvents.NONE);
    }

    public static ImageCache start(CacheConfig config, CacheEvents events) throws IOException {
        return start(config, events, MetricsConfig.OFF);
    }

    /** Starts the cache; with {@code metrics} enabled, serves {@code /metrics} first (closed last). */
    public static ImageCache start(CacheConfig config, MetricsConfig metrics) throws IOException {
        return start(config, CacheEvents.NONE, metrics);
    }

    /** Starts the cache, reporting to {@code events} and, when {@code metricsConfig} is enabled, to its meters. */
    public static ImageCache start(CacheConfig config, CacheEvents events, MetricsConfig metricsConfig) throws IOException {
        SnapshotStore store = new SnapshotStore(new MemoryBudget(config.maxMemory()));
        DaemonMetrics metrics = null;
        if (metricsConfig.enabled()) {
            CacheMetrics meters = new CacheMetrics(store);
            metrics = DaemonMetrics.start(FerryMeters.ROLE_CACHE, metricsConfig, meters);
            events = CacheEvents.both(events, meters);
        }
        try {
            return start(config, store, events, metrics);
        } catch (IOException | RuntimeException e) {
            if (metrics != null) {
                metrics.close();
            }
            throw e;
        }
    }

    private static ImageCache start(CacheConfig config, SnapshotStore store, CacheEvents events, DaemonMetrics metrics)
            throws IOException {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        SslContext tls = config.tls() == null ? null : TlsContexts.server(config.tls());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(0, io);
        // idle image memory goes back to the system once no snapshot has needed it for a while
        group.scheduleAtFixedRate(() -> {
            long freed = store.chunks().trim(CHUNKS_KEPT_UNUSED);
            if (freed > 0) {
                LOG.info(() -> "gave " + (freed >> 20) + " MiB of idle image memory back to the system");
            }
        }, 1, 1, TimeUnit.MINUTES);
        Path work = config.runDir().resolve("cache-work");
        JobTerminals terminals = new JobTerminals(config.runDir().resolve(TERMINALS_DIR));
        RestoreEngine engine = new RestoreEngine(config.criu(), work, terminals);
        AddressJournal journal = new AddressJournal(config.runDir().resolve("migrations"));
        for (String line : journal.sweep()) {
            LOG.warning(() -> "service address sweep: " + line);
        }
        MigrationTarget migrations = new MigrationTarget(store, engine, config.criu(), config.node(), journal, events)
                .withLazy(work);
        Channel server;
        try {
            server = new ServerBootstrap()
                    .group(group)
                    .channel(channelClass)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.SO_RCVBUF, 4 << 20)
                    .childHandler(new CacheChannelInitializer(store, events, config.node(), config.limits(),
                            tls, config.tls() == null ? List.of() : config.tls().allowedPeers(), migrations))
                    .bind(config.listen()).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("cannot listen on " + config.listen() + ": " + e.getMessage()
                    + " (expected: a free port on a local address); choose another --port or --listen", e);
        }
        ControlServer control;
        try {
            Files.createDirectories(work);
            NativeWarmup.run(work);
            control = ControlServer.start(config.runDir(), CacheConfig.CONTROL_SOCKET, "cache", config.controlAccess(),
                    new CacheControl(store, new RestoreService(store, engine, config.restoreTimeout(), events)
                            .withLazy(migrations.lazySnapshots()), new VerifyService(store)));
        } catch (IOException | RuntimeException e) {
            server.close().syncUninterruptibly();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
        LOG.info(() -> "image-cache " + config.node() + ": listening on " + server.localAddress() + ", control socket "
                + control.socket() + " (" + control.access().describe() + "), " + (tls == null ? "plain TCP" : "mutual TLS via " + TlsContexts.provider()) + ", max memory "
                + config.maxMemory() + " bytes, CRIU " + config.criu().version());
        return new ImageCache(config, store, group, server, control, migrations, terminals, metrics);
    }

    /** The bound TCP address (useful with port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    public Path controlSocket() {
        return control.socket();
    }

    public SnapshotStore store() {
        return store;
    }

    /** Where {@code /metrics} is served, if metrics are on. */
    public java.util.Optional<InetSocketAddress> metricsAddress() {
        return java.util.Optional.ofNullable(metrics).map(DaemonMetrics::address);
    }

    public CompletableFuture<Void> terminationFuture() {
        return terminated;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        control.close();
        server.close().syncUninterruptibly();
        migrations.close();
        terminals.close(); // after the restores: the shell jobs this cache restored see their terminal hang up
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        store.close();
        if (metrics != null) {
            metrics.close();
        }
        LOG.info(() -> "image-cache " + config.node() + ": stopped");
        terminated.complete(null);
    }
}
