package dev.ferry.proxy;

import dev.ferry.criu.Criu;
import dev.ferry.protocol.control.ControlAccess;
import dev.ferry.protocol.tls.TlsSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything an image-proxy needs to start, validated here; only the CLI reads flags and environment.
 *
 * @param cacheHost      the image-cache's address
 * @param cachePort      the image-cache's port
 * @param runDir         holds the control socket {@code proxy.sock} and the dump work dirs
 * @param criu           the CRIU binary dumps run
 * @param node           this node's name, sent in the hello
 * @param connectTimeout how long to wait for the cache's TCP connect and hello
 * @param commitTimeout  how long the post-dump barrier waits for the cache to acknowledge a snapshot
 * @param dumpTimeout    how long one {@code criu dump} may run before it is killed (the source resumes)
 * @param tls            mutual TLS towards the cache, or null for plain TCP
 * @param controlGroup   group whose members may use the control socket besides root, or null for root only
 * @param retryFor       how long a dump whose link to the cache dropped mid-transfer tries to reconnect and continue
 *                       (the source stays frozen meanwhile); zero: the dump fails at once
 * @param maxConcurrentDumps dumps (and migrations) that may run at once; more wait, unfrozen, in arrival order
 */
public record ProxyConfig(String cacheHost, int cachePort, Path runDir, Criu criu, String node,
                          Duration connectTimeout, Duration commitTimeout, Duration dumpTimeout, TlsSettings tls,
                          String controlGroup, Duration retryFor, int maxConcurrentDumps) {

    public static final String CONTROL_SOCKET = "proxy.sock";
    /** The progress phase of a {@code --lazy} dump once committed: the tree is frozen, its pages served. */
    public static final String PHASE_SERVING = "serving";
    /** The progress phase of post-copy: the tree runs on the target, its pages cross. */
    public static final String PHASE_POST_COPY = "post-copy";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_COMMIT_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_DUMP_TIMEOUT = Duration.ofMinutes(10);
    public static final Duration DEFAULT_RETRY_FOR = Duration.ofSeconds(10);
    /** The cache keeps a dropped snapshot at most this long, whatever the proxy asks (ResumableSnapshots). */
    public static final Duration MAX_RETRY_FOR = Duration.ofMinutes(2);
    /**
     * Two dumps per core: every source frozen at once shares the cores with the others' CRIU, TLS and copies, so more
     * at once only makes each freeze longer (docs/migrate.md, Concurrent migrations).
     */
    public static final int DEFAULT_MAX_CONCURRENT_DUMPS = Math.max(2, 2 * Runtime.getRuntime().availableProcessors());

    public ProxyConfig {
        Objects.requireNonNull(cacheHost, "cacheHost");
        Objects.requireNonNull(runDir, "runDir");
        Objects.requireNonNull(criu, "criu");
        Objects.requireNonNull(node, "node");
        if (cachePort < 1 || cachePort > 65535) {
            throw new IllegalArgumentException("--port: " + cachePort + " (expected: 1..65535)");
        }
        if (cacheHost.isBlank()) {
            throw new IllegalArgumentException("--address: empty (expected: the image-cache's host name or IP)");
        }
        if (maxConcurrentDumps < 1) {
            throw new IllegalArgumentException("--max-concurrent-dumps: " + maxConcurrentDumps + " (expected: >= 1)");
        }
        controlGroup = controlGroup == null || controlGroup.isBlank() ? null : controlGroup;
        retryFor = retryFor == null ? Duration.ZERO : retryFor;
        if (retryFor.isNegative() || retryFor.compareTo(MAX_RETRY_FOR) > 0) {
            throw new IllegalArgumentException("--retry-for: " + retryFor.toMillis() + " ms (expected: 0 to "
                    + MAX_RETRY_FOR.toSeconds() + " s)");
        }
        if (commitTimeout != null && !retryFor.isZero() && retryFor.compareTo(commitTimeout) >= 0) {
            throw new IllegalArgumentException("--retry-for: " + retryFor.toMillis() + " ms (expected: below"
                    + " --commit-timeout " + commitTimeout.toSeconds() + " s, which bounds how long the source stays"
                    + " frozen at the end of a dump); lower --retry-for or raise --commit-timeout");
        }
        ControlAccess.forGroup(controlGroup); // an unknown group is refused here, before anything starts
    }

    /** Who may use the control socket. */
    public ControlAccess controlAccess() {
        return ControlAccess.forGroup(controlGroup);
    }
}
