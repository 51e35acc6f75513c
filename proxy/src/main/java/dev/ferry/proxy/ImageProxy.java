package dev.ferry.proxy;

import dev.ferry.dump.DumpEngine;
import dev.ferry.posix.NativeWarmup;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.metrics.DaemonMetrics;
import dev.ferry.protocol.metrics.FerryMeters;
import dev.ferry.protocol.metrics.MetricsConfig;
import dev.ferry.protocol.tls.TlsContexts;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The image-proxy daemon: the control socket that takes dump requests, the dump engine, and the event
 * loops of its connections to the image-cache (one connection per snapshot, so one dump's failure never
 * disturbs another). Lifecycle: {@link #start} → {@link #close}; close is idempotent and stops
 * components in reverse order of start.
 */
public final class ImageProxy implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ImageProxy.class.getName());

    private final ProxyConfig config;
    private final EventLoopGroup group;
    private final ControlServer control;
    private final SslContext tls;
    private final DaemonMetrics metrics;
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private boolean closed;

    private ImageProxy(ProxyConfig config, EventLoopGroup group, ControlServer control, SslContext tls,
                       DaemonMetrics metrics) {
        this.metrics = metrics;
        this.tls = tls;
        this.config = config;
        this.group = group;
        this.control = control;
    }

    public static ImageProxy start(ProxyConfig config) throws IOException {
        return start(config, MetricsConfig.OFF);
    }

    /** Starts the proxy; with {@code metrics} enabled, serves {@code /metrics} first (closed last). */
    public static ImageProxy start(ProxyConfig config, MetricsConfig metricsConfig) throws IOException {
        ProxyMetrics meters = new ProxyMetrics();
        DaemonMetrics metrics = metricsConfig.enabled()
                ? DaemonMetrics.start(FerryMeters.ROLE_PROXY, metricsConfig, meters) : null;
        try {
            return start(config, metrics, metrics == null ? ProxyEvents.NONE : meters);
        } catch (IOException | RuntimeException e) {
            if (metrics != null) {
                metrics.close();
            }
            throw e;
        }
    }

    private static ImageProxy start(ProxyConfig config, DaemonMetrics metrics, ProxyEvents events) throws IOException {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends Channel> channelClass = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
        SslContext tls = config.tls() == null ? null : TlsContexts.client(config.tls());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(0, io);
        ControlServer control;
        try {
            Path work = config.runDir().resolve("proxy-work");
            Files.createDirectories(work);
            NativeWarmup.run(work);
            DumpEngine engine = new DumpEngine(config.criu(), work);
            control = ControlServer.start(config.runDir(), ProxyConfig.CONTROL_SOCKET, "proxy", config.controlAccess(),
                    new DumpService(config, engine, group, channelClass, tls, events)
                            .withLazy(new dev.ferry.dump.LazyDumpEngine(config.criu(), work, DumpService.LAZY_DIR)));
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
        ImageProxy proxy = new ImageProxy(config, group, control, tls, metrics);
        LOG.info(() -> "image-proxy " + config.node() + ": control socket " + control.socket() + " ("
                + control.access().describe() + "), image-cache "
                + config.cacheHost() + ":" + config.cachePort() + (tls == null ? " (plain TCP)" : " (mutual TLS via " + TlsContexts.provider() + ")") + ", CRIU " + config.criu().version());
        proxy.probe(channelClass);
        return proxy;
    }

    /** Says hello to the cache once at start, so a misconfigured --address shows in the log at once. */
    private void probe(Class<? extends Channel> channelClass) {
        try (CacheLink link = CacheLink.connect(group, channelClass, config.cacheHost(), config.cachePort(),
                config.node(), config.connectTimeout(), tls)) {
            LOG.info(() -> "image-cache at " + link.target() + " is reachable");
        } catch (CacheLinkException e) {
            LOG.warning(() -> e.getMessage() + "; dumps will fail until it is");
        }
    }

    public Path controlSocket() {
        return control.socket();
    }

    /** Where {@code /metrics} is served, if metrics are on. */
    public java.util.Optional<java.net.InetSocketAddress> metricsAddress() {
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
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        if (metrics != null) {
            metrics.close();
        }
        LOG.info(() -> "image-proxy " + config.node() + ": stopped");
        terminated.complete(null);
    }
}
