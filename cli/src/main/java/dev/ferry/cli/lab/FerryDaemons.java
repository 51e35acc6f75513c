package dev.ferry.cli.lab;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The two ferry daemons of a lab: {@code image-cache} in the target node and {@code image-proxy} in
 * the source node, each a child JVM started through {@code nsenter --net=} so the CRIU it spawns
 * runs in that node's network namespace. Each has its own run dir ({@code BASE/dst},
 * {@code BASE/src}, mode 0700) holding its control socket, its stdout ({@code cache.out},
 * {@code proxy.out}) and its stderr log ({@code cache.log}, {@code proxy.log}). Stdout goes to a
 * file, not a pipe, so a daemon can never block on a reader that stopped reading.
 *
 * <p>The link between them is mutual TLS, with a PKI made by the jar itself in {@code BASE/pki}
 * ({@code ferry certs init}, {@code certs issue target --san <target IP>}, {@code certs issue source});
 * the cache lets in only {@code source} ({@code --tls-allow}). Tests may instead run the pair on plain
 * TCP ({@link #insecure(boolean)}), point the proxy elsewhere ({@link #proxyTarget(String, int)}, e.g. a
 * relay) and add names to the cache's certificate ({@link #addCacheSan(String)}).
 *
 * <p>Owns both processes; {@link #close()} stops them in reverse order of start. Not thread-safe.
 */
public final class FerryDaemons implements AutoCloseable {

    /** How long a daemon may take to print its {@code ready} line. */
    public static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    /** How long a daemon gets to exit after SIGTERM before SIGKILL. */
    public static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    /** How long one {@code ferry certs} run may take. */
    public static final Duration CERTS_TIMEOUT = Duration.ofSeconds(30);
    /** The cache's port in the lab (each lab has its own target netns, so it never collides). */
    public static final int DEFAULT_PORT = 27027;

    private final TwoNodeLab lab;
    private final FerryJar jar;
    private final Path criu;
    private Path cacheCriu; // another CRIU for the cache only (tests of a version mismatch), or null
    private final Path sourceRunDir;
    private final Path targetRunDir;
    private final Path pki;
    private final int port;
    private final List<String> jvmOptions;
    private final List<String> extraCacheSans = new ArrayList<>();
    private final List<String> extraCacheArgs = new ArrayList<>();
    private final List<String> extraProxyArgs = new ArrayList<>();
    private boolean insecure;
    private String proxyAddress;
    private int proxyPort;
    private Process cache;
    private Process proxy;

    /**
     * @param criu     the CRIU binary passed to both daemons with {@code --criu}
     * @param baseDir  a private directory; the run dirs {@code src} and {@code dst} are created in it
     * @param port     the cache's TCP port on the target node's address
     */
    public FerryDaemons(TwoNodeLab lab, FerryJar jar, Path criu, Path baseDir, int port) throws IOException {
        this(lab, jar, criu, baseDir, port, List.of());
    }

    public FerryDaemons(TwoNodeLab lab, FerryJar jar, Path criu, Path baseDir, int port, List<String> jvmOptions)
            throws IOException {
        this.lab = lab;
        this.jar = jar;
        this.criu = criu;
        this.port = port;
        this.jvmOptions = List.copyOf(jvmOptions);
        this.sourceRunDir = ScratchDir.ensurePrivate(baseDir.resolve("src"));
        this.targetRunDir = ScratchDir.ensurePrivate(baseDir.resolve("dst"));
        this.pki = baseDir.resolve("pki");
    }

    /** Makes the lab's CA and the two node certificates with {@code ferry certs}, once. */
    private void ensurePki() throws IOException, InterruptedException {
        if (Files.exists(pki.resolve("source.pem"))) {
            return;
        }
        certs(List.of("certs", "init", pki.toString()));
        List<String> issueTarget = new ArrayList<>(List.of("certs", "issue", "target", "--dir", pki.toString(), "--san",
                lab.targetIp()));
        for (String san : extraCacheSans) {
            issueTarget.add("--san");
            issueTarget.add(san);
        }
        certs(issueTarget);
        certs(List.of("certs", "issue", "source", "--dir", pki.toString()));
    }

    private void certs(List<String> args) throws IOException, InterruptedException {
        Path log = pki.resolveSibling("certs.log");
        ProcessBuilder builder = new ProcessBuilder(jar.command(FerryJar.CLIENT_JVM_OPTIONS, args))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Process process = builder.start();
        if (!process.waitFor(CERTS_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new IOException("ferry " + String.join(" ", args) + " did not finish within " + CERTS_TIMEOUT.toSeconds()
                    + " s; output " + log + ":\n" + LogTail.of(log, 10));
        }
        if (process.exitValue() != 0) {
            throw new IOException("ferry " + String.join(" ", args) + " exited with code " + process.exitValue()
                    + "; output " + log + ":\n" + LogTail.of(log, 10));
        }
    }

    /**
     * Adds subject alternative names to the cache's certificate besides the target's IP (e.g. the
     * address of a relay the proxy dials instead). Only before the PKI is made (the first start).
     */
    public FerryDaemons addCacheSan(String san) {
        if (Files.exists(pki.resolve("target.pem"))) {
            throw new IllegalStateException("the lab's PKI already exists in " + pki + "; add SANs before the first start");
        }
        extraCacheSans.add(san);
        return this;
    }

    /**
     * Plain TCP with {@code --insecure} on both daemons instead of mutual TLS (no PKI, no
     * {@code --tls-allow}). Takes effect at the next start of each daemon. Default: false (TLS).
     */
    /** Runs the image-cache with another CRIU than the proxy (a launcher that reports another version, in tests). */
    public FerryDaemons cacheCriu(Path criu) {
        this.cacheCriu = criu;
        return this;
    }

    public FerryDaemons insecure(boolean insecure) {
        this.insecure = insecure;
        return this;
    }

    /**
     * Points the proxy at {@code address:port} instead of the cache's own address and port (e.g. a relay
     * in the source node); null restores the default. Takes effect at the next start of the proxy.
     */
    public FerryDaemons proxyTarget(String address, int port) {
        this.proxyAddress = address;
        this.proxyPort = port;
        return this;
    }

    /** Adds options to every later start of the cache (e.g. {@code --metrics-port 9464}). */
    public FerryDaemons cacheOptions(String... args) {
        extraCacheArgs.addAll(List.of(args));
        return this;
    }

    /** Adds options to every later start of the proxy. */
    public FerryDaemons proxyOptions(String... args) {
        extraProxyArgs.addAll(List.of(args));
        return this;
    }

    private List<String> tlsOptions(String node) {
        if (insecure) {
            return List.of("--insecure");
        }
        return List.of("--tls-cert", pki.resolve(node + ".pem").toString(), "--tls-key", pki.resolve(node + "-key.pem").toString(),
                "--tls-ca", pki.resolve("ca.pem").toString());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Starts the cache, then the proxy, each waiting for its ready line. */
    public FerryDaemons start() throws IOException, InterruptedException {
        startCache();
        startProxy();
        return this;
    }

    /** Starts {@code ferry image-cache} in the target node and waits for its {@code ready} line. */
    public void startCache() throws IOException, InterruptedException {
        if (cache != null && cache.isAlive()) {
            throw new IllegalStateException("image-cache already running (pid " + cache.pid() + ")");
        }
        if (!insecure) {
            ensurePki();
        }
        List<String> args = new ArrayList<>(List.of("image-cache", "--port", Integer.toString(port), "--listen",
                lab.targetIp(), "--run-dir", targetRunDir.toString(), "--criu",
                (cacheCriu != null ? cacheCriu : criu).toString()));
        if (!insecure) {
            args.addAll(List.of("--tls-allow", "source"));
        }
        args.addAll(extraCacheArgs);
        cache = startDaemon("image-cache", lab.targetNs(), targetRunDir, cacheOut(), cacheLog(), concat(args,
                tlsOptions("target")));
    }

    /** Starts {@code ferry image-proxy} in the source node, pointed at the cache, and waits for {@code ready}. */
    public void startProxy() throws IOException, InterruptedException {
        if (proxy != null && proxy.isAlive()) {
            throw new IllegalStateException("image-proxy already running (pid " + proxy.pid() + ")");
        }
        if (!insecure) {
            ensurePki();
        }
        String address = proxyAddress != null ? proxyAddress : lab.targetIp();
        int dialPort = proxyAddress != null ? proxyPort : port;
        proxy = startDaemon("image-proxy", lab.sourceNs(), sourceRunDir, proxyOut(), proxyLog(), concat(concat(
                List.of("image-proxy", "--address", address, "--port", Integer.toString(dialPort),
                        "--run-dir", sourceRunDir.toString(), "--criu", criu.toString()),
                tlsOptions("source")), extraProxyArgs));
    }

    private Process startDaemon(String name, String ns, Path runDir, Path out, Path log, List<String> args)
            throws IOException, InterruptedException {
        Files.deleteIfExists(out);
        ProcessBuilder builder = lab.inNode(ns, jar.command(jvmOptions, args))
                .directory(runDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().remove("FERRY_RUN_DIR");
        Process process = lab.track(builder.start());
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            if (readyLine(out).isPresent()) {
                return process;
            }
            if (!process.isAlive()) {
                throw new IOException(name + " exited with code " + process.exitValue() + " before it was ready: "
                        + String.join(" ", builder.command()) + "\n" + name + " stdout:\n" + LogTail.of(out, 10)
                        + "\n" + name + " log " + log + ":\n" + LogTail.of(log, 30));
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException(name + " printed no 'ready' line within " + READY_TIMEOUT.toSeconds() + " s: "
                        + String.join(" ", builder.command()) + "\n" + name + " stdout:\n" + LogTail.of(out, 10)
                        + "\n" + name + " log " + log + ":\n" + LogTail.of(log, 30));
            }
            Thread.sleep(20);
        }
    }

    private static Optional<String> readyLine(Path out) {
        try {
            if (!Files.exists(out)) {
                return Optional.empty();
            }
            // only complete lines count
            String text = Files.readString(out);
            int end = text.lastIndexOf('\n');
            if (end < 0) {
                return Optional.empty();
            }
            return text.substring(0, end).lines().filter(l -> l.startsWith("ready")).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The cache's {@code ready} line, if it printed one. */
    public Optional<String> cacheReadyLine() {
        return readyLine(cacheOut());
    }

    /** The proxy's {@code ready} line, if it printed one. */
    public Optional<String> proxyReadyLine() {
        return readyLine(proxyOut());
    }

    public Path sourceRunDir() {
        return sourceRunDir;
    }

    public Path targetRunDir() {
        return targetRunDir;
    }

    /** The lab's CA and node certificates ({@code ca.pem}, {@code target.pem}, {@code source.pem} and keys). */
    public Path pkiDir() {
        return pki;
    }

    public int port() {
        return port;
    }

    public Path cacheLog() {
        return targetRunDir.resolve("cache.log");
    }

    public Path cacheOut() {
        return targetRunDir.resolve("cache.out");
    }

    public Path proxyLog() {
        return sourceRunDir.resolve("proxy.log");
    }

    public Path proxyOut() {
        return sourceRunDir.resolve("proxy.out");
    }

    /** The cache JVM's PID (nsenter execs java, so this is java itself). */
    public long cachePid() {
        requireStarted(cache, "image-cache");
        return cache.pid();
    }

    public long proxyPid() {
        requireStarted(proxy, "image-proxy");
        return proxy.pid();
    }

    public boolean cacheAlive() {
        return cache != null && cache.isAlive();
    }

    public boolean proxyAlive() {
        return proxy != null && proxy.isAlive();
    }

    private static void requireStarted(Process process, String name) {
        if (process == null) {
            throw new IllegalStateException(name + " was not started");
        }
    }

    /** SIGKILLs the proxy (a crash, as far as its peers and its CRIU can tell) and waits for it to exit. */
    public void killProxy() throws InterruptedException {
        requireStarted(proxy, "image-proxy");
        proxy.destroyForcibly();
        proxy.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** SIGKILLs the cache (a crash, as far as its peers can tell) and waits for it to exit. */
    public void killCache() throws InterruptedException {
        requireStarted(cache, "image-cache");
        cache.destroyForcibly();
        cache.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Graceful stop of the cache: SIGTERM, {@link #STOP_TIMEOUT}, then SIGKILL. Returns its exit code. */
    public int stopCache() throws InterruptedException {
        return stop(cache);
    }

    /** Graceful stop of the proxy, like {@link #stopCache()}. */
    public int stopProxy() throws InterruptedException {
        return stop(proxy);
    }

    private static int stop(Process process) throws InterruptedException {
        if (process == null) {
            return 0;
        }
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        return process.isAlive() ? -1 : process.exitValue();
    }

    /** The last lines of both daemons' logs, for failure messages. */
    public String logTails(int lines) {
        List<String> parts = new ArrayList<>();
        parts.add("image-proxy log " + proxyLog() + ":\n" + LogTail.of(proxyLog(), lines));
        parts.add("image-cache log " + cacheLog() + ":\n" + LogTail.of(cacheLog(), lines));
        return String.join("\n", parts);
    }

    /** Stops the proxy, then the cache (reverse order of start); an interrupt turns the stops into SIGKILLs. */
    @Override
    public void close() {
        boolean interrupted = false;
        for (Process process : new Process[] {proxy, cache}) {
            try {
                stop(process);
            } catch (InterruptedException e) {
                interrupted = true;
                process.destroyForcibly();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
