package dev.ferry.cli;

import dev.ferry.protocol.metrics.MetricsConfig;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options both daemons take: node name, TLS, the plain-TCP escape hatch, run dir, control group, CRIU. */
final class DaemonOptions {

    @Option(names = "--node", paramLabel = "NAME", description = "This node's name in logs (default: host name).")
    String node;

    @Option(names = "--insecure",
            description = "Allow plain TCP (no TLS) on or to a non-loopback address; see docs/security.md.")
    boolean insecure;

    @Option(names = "--control-group", paramLabel = "GROUP",
            description = "Also accept control-socket callers of this group (primary group or listed in /etc/group);"
                    + " the run dir becomes 0750 and the socket 0660, both of GROUP (default: root only).")
    String controlGroup;

    @Mixin
    RunDirOption runDir;

    @Mixin
    CriuOption criuOption;

    @Mixin
    TlsOptions tlsOptions;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://ADDR:PORT/metrics (0 = any free port; default: off).")
    Integer metricsPort;

    @Option(names = "--metrics-listen", paramLabel = "ADDR",
            description = "Address for --metrics-port (default: " + MetricsConfig.DEFAULT_LISTEN + ").")
    String metricsListen;

    /** {@code --metrics-port}/{@code --metrics-listen}; throws IllegalArgumentException naming the bad option. */
    MetricsConfig metrics() {
        if (metricsPort == null) {
            if (metricsListen != null) {
                throw new IllegalArgumentException("--metrics-listen " + metricsListen
                        + " without --metrics-port (expected: both, e.g. --metrics-port 9464)");
            }
            return MetricsConfig.OFF;
        }
        return MetricsConfig.on(metricsListen, metricsPort);
    }

    String nodeName() {
        return node == null ? DaemonRunner.hostname() : node;
    }

    /** {@link DaemonPreflight#run} with these options. */
    DaemonPreflight.Checked preflight(String daemon, String verb, String address) throws DaemonPreflight.Refusal {
        return DaemonPreflight.run(daemon, verb, address, insecure, tlsOptions, controlGroup, criuOption);
    }
}
