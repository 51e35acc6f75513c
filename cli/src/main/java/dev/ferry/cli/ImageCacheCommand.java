package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.tls.TlsSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;

/** {@code ferry image-cache}: the target node's daemon. */
@Command(name = "image-cache", mixinStandardHelpOptions = true,
        description = "Target-node daemon: receives snapshots from image-proxies, holds them in memory, restores them.")
public final class ImageCacheCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--port", paramLabel = "PORT", description = "TCP port for image-proxies (default: ${DEFAULT-VALUE}).")
    int port = Wire.DEFAULT_PORT;

    @Option(names = "--listen", paramLabel = "ADDR", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String listen = "127.0.0.1";

    @Option(names = "--max-memory", paramLabel = "SIZE", description = "Image memory the cache may hold, e.g. 8G (default: half the RAM).")
    String maxMemory;

    @Mixin
    DaemonOptions daemon;

    @Mixin
    CacheLimitOptions limitOptions;

    @Override
    public Integer call() {
        var err = spec.commandLine().getErr();
        if (port < 0 || port > 65535) {
            err.println("ferry image-cache: --port: " + port + " (expected: 0..65535)");
            return ExitCode.USAGE.code();
        }
        DaemonPreflight.Checked checked;
        try {
            checked = daemon.preflight("image-cache", "listen on", listen);
        } catch (DaemonPreflight.Refusal r) {
            err.println("ferry image-cache: " + r.getMessage());
            return r.code.code();
        }
        Criu criu = checked.criu();
        TlsSettings tls = checked.tls();
        CacheConfig config;
        dev.ferry.protocol.metrics.MetricsConfig metrics;
        try {
            metrics = daemon.metrics();
            long max = maxMemory == null ? CacheConfig.defaultMaxMemory() : Bytes.parse(maxMemory);
            config = new CacheConfig(new InetSocketAddress(listen, port), daemon.runDir.resolve(), criu, max,
                    daemon.nodeName(), CacheConfig.DEFAULT_RESTORE_TIMEOUT,
                    tls, limitOptions.limits(), daemon.controlGroup);
        } catch (IllegalArgumentException e) {
            err.println("ferry image-cache: " + e.getMessage());
            return ExitCode.USAGE.code();
        }
        ImageCache cache;
        try {
            cache = ImageCache.start(config, metrics);
        } catch (IOException e) {
            err.println("ferry image-cache: " + e.getMessage());
            return ExitCode.FAILURE.code();
        }
        return DaemonRunner.run(cache, cache.terminationFuture(), spec.commandLine().getOut(),
                "ready image-cache listening on " + cache.address().getAddress().getHostAddress() + ":"
                        + cache.address().getPort() + " control " + cache.controlSocket()
                        + cache.metricsAddress().map(a -> " metrics " + a.getAddress().getHostAddress() + ":" + a.getPort())
                                .orElse(""));
    }
}
