package dev.ferry.cache;

import dev.ferry.criu.Criu;
import dev.ferry.protocol.control.ControlAccess;
import dev.ferry.protocol.tls.TlsSettings;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything an image-cache needs to start, validated here; only the CLI reads flags and environment.
 *
 * @param listen      address and port for image-proxy connections
 * @param runDir      holds the control socket {@code cache.sock} and the restore work dirs
 * @param criu        the CRIU binary restores run
 * @param maxMemory   bytes of image memory the cache may hold
 * @param node        this node's name, for logs and the peer's hello
 * @param restoreTimeout how long one {@code criu restore} may run before it is killed
 * @param tls         mutual TLS for proxy connections, or null for plain TCP
 * @param limits      what the cache accepts from its peers
 * @param controlGroup group whose members may use the control socket besides root, or null for root only
 */
public record CacheConfig(InetSocketAddress listen, Path runDir, Criu criu, long maxMemory, String node,
                          Duration restoreTimeout, TlsSettings tls, CacheLimits limits, String controlGroup) {

    public static final String CONTROL_SOCKET = "cache.sock";
    public static final Duration DEFAULT_RESTORE_TIMEOUT = Duration.ofMinutes(10);

    public CacheConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(runDir, "runDir");
        Objects.requireNonNull(criu, "criu");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(restoreTimeout, "restoreTimeout");
        limits = limits == null ? CacheLimits.defaults() : limits;
        if (maxMemory <= 0) {
            throw new IllegalArgumentException("--max-memory: " + maxMemory + " (expected: > 0 bytes)");
        }
        controlGroup = controlGroup == null || controlGroup.isBlank() ? null : controlGroup;
        ControlAccess.forGroup(controlGroup); // an unknown group is refused here, before anything starts
    }

    /** A cache whose control socket takes root callers only. */
    public CacheConfig(InetSocketAddress listen, Path runDir, Criu criu, long maxMemory, String node,
                       Duration restoreTimeout, TlsSettings tls, CacheLimits limits) {
        this(listen, runDir, criu, maxMemory, node, restoreTimeout, tls, limits, null);
    }

    /** Who may use the control socket. */
    public ControlAccess controlAccess() {
        return ControlAccess.forGroup(controlGroup);
    }

    /** Half of the machine's physical memory: a safe default share for images. */
    public static long defaultMaxMemory() {
        try {
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            return os.getTotalMemorySize() / 2;
        } catch (RuntimeException | LinkageError e) {
            return 4L << 30;
        }
    }
}
