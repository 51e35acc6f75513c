package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.cache.StoredSnapshot;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.tls.TlsContexts;
import dev.ferry.protocol.tls.TlsSettings;
import dev.ferry.proxy.CacheLink;
import dev.ferry.proxy.CacheLinkException;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mutual TLS between the image-proxy's link and the image-cache over real loopback TCP, in one JVM, with
 * a PKI made by {@code ferry certs}: a snapshot arrives over mTLS; every peer without a good certificate
 * is refused before one byte of it is stored; the proxy refuses a cache that does not carry the dialed
 * address; the image-cache command refuses plain TCP on a non-loopback address.
 */
class MutualTlsLinkTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private Path pki;
    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int ferry(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @BeforeEach
    void pki() {
        pki = dir.resolve("pki");
        assertEquals(0, ferry("certs", "init", pki.toString()), err.toString());
        assertEquals(0, ferry("certs", "issue", "target", "--dir", pki.toString(), "--san", "127.0.0.1"), err.toString());
        assertEquals(0, ferry("certs", "issue", "source", "--dir", pki.toString()), err.toString());
        assertEquals(0, ferry("certs", "issue", "intruder", "--dir", pki.toString()), err.toString());
        assertEquals(0, ferry("certs", "issue", "elsewhere", "--dir", pki.toString()), err.toString()); // lacks 127.0.0.1
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        if (cache != null) {
            cache.close();
        }
    }

    private TlsSettings settings(String node, List<String> allowed) {
        return new TlsSettings(pki.resolve(node + ".pem"), pki.resolve(node + "-key.pem"), pki.resolve("ca.pem"), allowed);
    }

    private void startCache(TlsSettings tls) throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run here: no restore in this test
        Path runDir = Files.createDirectories(dir.resolve("run"));
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), tls, null));
    }

    private CacheLink link(SslContext tls) throws Exception {
        return CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(), "source", TIMEOUT, tls);
    }

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    /** A client certificate and key written next to the PKI, for certificates {@code ferry certs} would never make. */
    private TlsSettings clientWith(String name, X509Certificate cert, PrivateKey key) throws Exception {
        Path certFile = dir.resolve(name + ".pem");
        Path keyFile = dir.resolve(name + "-key.pem");
        CertificateIssuer.writeCertificates(certFile, cert);
        CertificateIssuer.writePrivateKey(keyFile, key);
        return new TlsSettings(certFile, keyFile, pki.resolve("ca.pem"), List.of());
    }

    private void assertRefusedBeforeAnyImage(SslContext client) {
        CacheLinkException e = assertThrows(CacheLinkException.class, () -> {
            try (CacheLink link = link(client)) {
                link.begin(SnapshotName.of("stolen"), 0, 1, TIMEOUT);
            }
        });
        assertTrue(e.getMessage().contains("TLS"), e.getMessage());
        assertTrue(cache.store().list().isEmpty(), "nothing is stored from an unauthenticated peer");
    }

    @Test
    void snapshotOverMutualTlsArrivesAndCommits() throws Exception {
        startCache(settings("target", List.of("source")));
        SnapshotName name = SnapshotName.of("web1");
        byte[] data = new byte[3 << 20];
        new Random(1).nextBytes(data);
        ImageName image = ImageName.of("pages-1.img");
        try (CacheLink link = link(TlsContexts.client(settings("source", List.of())))) {
            link.begin(name, data.length, 1, TIMEOUT);
            ImageOutput o = link.open(image);
            for (int off = 0; off < data.length; off += 65536) {
                o.write(ByteBuffer.wrap(data, off, Math.min(65536, data.length - off)));
            }
            o.finish(data.length, crc(data));
            link.commit(List.of(new ImageDigest(image, data.length, crc(data)))).get(10, TimeUnit.SECONDS);
        }
        StoredSnapshot stored = cache.store().committed(name).orElseThrow();
        ByteArrayOutputStream copy = new ByteArrayOutputStream();
        stored.find(image).orElseThrow().writeTo(Channels.newChannel(copy));
        assertArrayEquals(data, copy.toByteArray());
    }

    @Test
    void plainTcpPeerIsRefusedBeforeAnyFrame() throws Exception {
        startCache(settings("target", List.of()));
        CacheLinkException e = assertThrows(CacheLinkException.class, () -> link(null));
        assertTrue(e.getMessage().contains("--tls-cert"), e.getMessage());
        assertTrue(cache.store().list().isEmpty());
    }

    @Test
    void tlsPeerWithoutClientCertificateIsRefused() throws Exception {
        startCache(settings("target", List.of()));
        SslContext noCert = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).protocols(TlsContexts.PROTOCOL)
                .trustManager(pki.resolve("ca.pem").toFile()).build();
        assertRefusedBeforeAnyImage(noCert);
    }

    @Test
    void selfSignedClientCertificateIsRefused() throws Exception {
        startCache(settings("target", List.of()));
        KeyPair key = CertificateIssuer.newKeyPair();
        Instant now = Instant.now();
        X509Certificate self = CertificateIssuer.node(null, key.getPrivate(), key.getPublic(), "source", List.of(),
                now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(1)));
        assertRefusedBeforeAnyImage(TlsContexts.client(clientWith("self", self, key.getPrivate())));
    }

    @Test
    void expiredClientCertificateIsRefused() throws Exception {
        startCache(settings("target", List.of()));
        X509Certificate ca = CertificateIssuer.readCertificate(pki.resolve("ca.pem"));
        PrivateKey caKey = CertificateIssuer.readPrivateKey(pki.resolve("ca-key.pem"));
        KeyPair key = CertificateIssuer.newKeyPair();
        Instant now = Instant.now();
        X509Certificate expired = CertificateIssuer.node(ca, caKey, key.getPublic(), "source", List.of(),
                now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)));
        assertRefusedBeforeAnyImage(TlsContexts.client(clientWith("expired", expired, key.getPrivate())));
    }

    @Test
    void clientCertificateFromAnotherCaIsRefused() throws Exception {
        startCache(settings("target", List.of()));
        Instant now = Instant.now();
        KeyPair otherCaKey = CertificateIssuer.newKeyPair();
        X509Certificate otherCa = CertificateIssuer.ca(otherCaKey, "other CA", now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(1)));
        KeyPair key = CertificateIssuer.newKeyPair();
        X509Certificate foreign = CertificateIssuer.node(otherCa, otherCaKey.getPrivate(), key.getPublic(), "source",
                List.of(), now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(1)));
        // the client trusts the cache's CA, so only the cache's judgement of the client is tested
        assertRefusedBeforeAnyImage(TlsContexts.client(clientWith("foreign", foreign, key.getPrivate())));
    }

    @Test
    void peerNotOnTlsAllowIsRefused() throws Exception {
        startCache(settings("target", List.of("source")));
        CacheLinkException e = assertThrows(CacheLinkException.class,
                () -> link(TlsContexts.client(settings("intruder", List.of()))).close());
        assertTrue(e.getMessage().contains("refused our certificate"), e.getMessage());
        assertTrue(cache.store().list().isEmpty());
    }

    @Test
    void proxyRefusesCacheWhoseCertificateLacksTheDialedAddress() throws Exception {
        startCache(settings("elsewhere", List.of()));
        CacheLinkException e = assertThrows(CacheLinkException.class,
                () -> link(TlsContexts.client(settings("source", List.of()))).close());
        assertTrue(e.getMessage().contains("TLS failed"), e.getMessage());
        assertTrue(e.getMessage().contains("does not name 127.0.0.1"), e.getMessage());
    }

    @Test
    void proxyRefusesCacheSignedByAnotherCa() throws Exception {
        startCache(settings("target", List.of()));
        Path otherPki = dir.resolve("other-pki");
        assertEquals(0, ferry("certs", "init", otherPki.toString()), err.toString());
        assertEquals(0, ferry("certs", "issue", "source", "--dir", otherPki.toString()), err.toString());
        TlsSettings other = new TlsSettings(otherPki.resolve("source.pem"), otherPki.resolve("source-key.pem"),
                otherPki.resolve("ca.pem"), List.of());
        CacheLinkException e = assertThrows(CacheLinkException.class, () -> link(TlsContexts.client(other)).close());
        assertTrue(e.getMessage().contains("not signed by the --tls-ca"), e.getMessage());
    }

    @Test
    void certsWritesKeysWithMode0600AndRefusesToOverwrite() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.resolve("ca-key.pem"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.resolve("target-key.pem"))));
        X509Certificate target = CertificateIssuer.readCertificate(pki.resolve("target.pem"));
        assertEquals(List.of("target", "127.0.0.1"), dev.ferry.protocol.tls.PeerNames.of(target));
        assertNotEquals(0, ferry("certs", "issue", "target", "--dir", pki.toString()));
        assertTrue(err.toString().contains("exists"), err.toString());
    }

    @Test
    void imageCacheRefusesNonLoopbackListenWithoutTls() {
        // 192.0.2.1 is TEST-NET-1: never bound; the refusal comes before any bind anyway
        assertEquals(ExitCode.USAGE.code(), ferry("image-cache", "--listen", "192.0.2.1", "--port", "0",
                "--run-dir", dir.resolve("run").toString()));
        String message = err.toString();
        assertTrue(message.contains("root"), message);
        assertTrue(message.contains("--tls-cert") && message.contains("--tls-ca"), message);
        assertTrue(message.contains("--insecure"), message);
        assertTrue(message.contains("docs/security.md"), message);
    }

    @Test
    void imageCacheWithInsecurePassesTheTlsCheck() {
        int code = ferry("image-cache", "--listen", "192.0.2.1", "--port", "0", "--insecure",
                "--run-dir", dir.resolve("run").toString(), "--criu", "/nonexistent/criu");
        assertNotEquals(ExitCode.USAGE.code(), code, err.toString());
        assertTrue(!err.toString().contains("refusing"), err.toString());
    }

    @Test
    void imageProxyRefusesToDialNonLoopbackWithoutTls() {
        assertEquals(ExitCode.USAGE.code(), ferry("image-proxy", "--address", "192.0.2.1",
                "--run-dir", dir.resolve("run").toString()));
        assertTrue(err.toString().contains("--insecure"), err.toString());
    }
}
