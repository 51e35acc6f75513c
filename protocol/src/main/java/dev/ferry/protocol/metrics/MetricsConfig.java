package dev.ferry.protocol.metrics;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * Where a daemon serves {@code /metrics}: {@code --metrics-listen ADDR --metrics-port P}. Off unless a port is
 * given; port 0 picks a free one (logged and printed in the ready line).
 *
 * @param listen the address to bind, by default loopback: metrics tell a lot about a node
 * @param port   0..65535, or -1 for off
 */
public record MetricsConfig(String listen, int port) {

    public static final String DEFAULT_LISTEN = "127.0.0.1";
    public static final MetricsConfig OFF = new MetricsConfig(DEFAULT_LISTEN, -1);

    public MetricsConfig {
        Objects.requireNonNull(listen, "listen");
        if (port < -1 || port > 65535) {
            throw new IllegalArgumentException("--metrics-port: " + port + " (expected: 0..65535)");
        }
        if (listen.isBlank()) {
            throw new IllegalArgumentException("--metrics-listen: empty (expected: an address of this node, e.g. "
                    + DEFAULT_LISTEN + ")");
        }
    }

    /** Metrics on {@code listen:port}. */
    public static MetricsConfig on(String listen, int port) {
        if (port < 0) {
            throw new IllegalArgumentException("--metrics-port: " + port + " (expected: 0..65535)");
        }
        return new MetricsConfig(listen == null ? DEFAULT_LISTEN : listen, port);
    }

    public boolean enabled() {
        return port >= 0;
    }

    InetAddress address() throws UnknownHostException {
        return InetAddress.getByName(listen);
    }
}
