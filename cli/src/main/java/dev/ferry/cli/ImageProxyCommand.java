package dev.ferry.cli;

import dev.ferry.criu.Criu;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.tls.TlsSettings;
import dev.ferry.proxy.ImageProxy;
import dev.ferry.proxy.ProxyConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code ferry image-proxy}: the source node's daemon. */
@Command(name = "image-proxy", mixinStandardHelpOptions = true,
        description = "Source-node daemon: runs dumps and streams their images to the image-cache.")
public final class ImageProxyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--address", required = true, paramLabel = "HOST", description = "The image-cache's address.")
    String address;

    @Option(names = "--port", paramLabel = "PORT", description = "The image-cache's port (default: ${DEFAULT-VALUE}).")
    int port = Wire.DEFAULT_PORT;

    @Option(names = "--max-concurrent-dumps", paramLabel = "N",
            description = "Dumps and migrations that run at once; more wait their turn unfrozen (default: two per core, ${DEFAULT-VALUE}).")
    int maxConcurrentDumps = ProxyConfig.DEFAULT_MAX_CONCURRENT_DUMPS;

    @Option(names = "--commit-timeout", paramLabel = "SECONDS",
            description = "How long a frozen dump waits for the cache to acknowledge its snapshot (default: ${DEFAULT-VALUE}).")
    long commitTimeoutSeconds = ProxyConfig.DEFAULT_COMMIT_TIMEOUT.toSeconds();

    @Option(names = "--retry-for", paramLabel = "DURATION",
            description = "How long a dump whose link to the image-cache drops mid-transfer reconnects and continues"
                    + " where the cache stopped, the source frozen meanwhile; 0 fails the dump at once (e.g. 10s,"
                    + " 500ms; default: ${DEFAULT-VALUE}).")
    String retryFor = "10s";

    @Mixin
    DaemonOptions daemon;

    @Override
    public Integer call() {
        var err = spec.commandLine().getErr();
        DaemonPreflight.Checked checked;
        try {
            checked = daemon.preflight("image-proxy", "dial", address);
        } catch (DaemonPreflight.Refusal r) {
            err.println("ferry image-proxy: " + r.getMessage());
            return r.code.code();
        }
        Criu criu = checked.criu();
        TlsSettings tls = checked.tls();
        ProxyConfig config;
        dev.ferry.protocol.metrics.MetricsConfig metrics;
        try {
            metrics = daemon.metrics();
            if (commitTimeoutSeconds <= 0) {
                throw new IllegalArgumentException("--commit-timeout: " + commitTimeoutSeconds + " (expected: > 0 seconds)");
            }
            config = new ProxyConfig(address, port, daemon.runDir.resolve(), criu, daemon.nodeName(),
                    ProxyConfig.DEFAULT_CONNECT_TIMEOUT, Duration.ofSeconds(commitTimeoutSeconds), ProxyConfig.DEFAULT_DUMP_TIMEOUT,
                    tls, daemon.controlGroup, DurationOption.parse("--retry-for", retryFor), maxConcurrentDumps);
        } catch (IllegalArgumentException e) {
            err.println("ferry image-proxy: " + e.getMessage());
            return ExitCode.USAGE.code();
        }
        ImageProxy proxy;
        try {
            proxy = ImageProxy.start(config, metrics);
        } catch (IOException e) {
            err.println("ferry image-proxy: " + e.getMessage());
            return ExitCode.FAILURE.code();
        }
        return DaemonRunner.run(proxy, proxy.terminationFuture(), spec.commandLine().getOut(),
                "ready image-proxy to " + address + ":" + port + " control " + proxy.controlSocket()
                        + proxy.metricsAddress().map(a -> " metrics " + a.getAddress().getHostAddress() + ":" + a.getPort())
                                .orElse(""));
    }
}
