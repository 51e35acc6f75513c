package dev.ferry.protocol.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;

/**
 * Builds the TLS contexts of the proxy ↔ cache link from {@link TlsSettings}: TLS 1.3 only, the JDK
 * provider, PEM files (certificate chain, PKCS#8 key), and trust in the given CA and nothing else — never
 * the JDK's default CA store. The cache requires a client certificate; the proxy checks that the cache's
 * certificate names the address it dialed.
 */
public final class TlsContexts {

    /** The only protocol either side speaks. */
    public static final String PROTOCOL = "TLSv1.3";

    private TlsContexts() {
    }

    /**
     * BoringSSL (netty-tcnative) when it loads, else the JDK's engine; {@code -Dferry.tls.provider=jdk} forces the
     * JDK. BoringSSL moves the link several times faster: the JDK engine held it to tens of MB/s here.
     */
    public static SslProvider provider() {
        if (!"jdk".equalsIgnoreCase(System.getProperty("ferry.tls.provider", ""))
                && io.netty.handler.ssl.OpenSsl.isAvailable() && SslProvider.isTlsv13Supported(SslProvider.OPENSSL)) {
            return SslProvider.OPENSSL;
        }
        return SslProvider.JDK;
    }

    /**
     * The cache's context: client certificate required, chained to {@code --tls-ca} and, when
     * {@link TlsSettings#allowedPeers()} is not empty, naming one of them (refused in the handshake).
     */
    public static SslContext server(TlsSettings settings) throws IOException {
        try {
            return SslContextBuilder.forServer(readable(settings.certificate(), "--tls-cert").toFile(),
                            readable(settings.key(), "--tls-key").toFile())
                    .sslProvider(provider())
                    .protocols(PROTOCOL)
                    .clientAuth(ClientAuth.REQUIRE)
                    .trustManager(new AllowedPeersTrustManager(caTrust(settings.ca()), settings.allowedPeers()))
                    .build();
        } catch (SSLException | IllegalArgumentException e) {
            throw unusable(settings, e);
        }
    }

    /** The proxy's context: presents its certificate, trusts only {@code --tls-ca}, verifies the cache's name. */
    public static SslContext client(TlsSettings settings) throws IOException {
        try {
            return SslContextBuilder.forClient()
                    .sslProvider(provider())
                    .protocols(PROTOCOL)
                    .keyManager(readable(settings.certificate(), "--tls-cert").toFile(),
                            readable(settings.key(), "--tls-key").toFile())
                    .trustManager(caTrust(settings.ca()))
                    .endpointIdentificationAlgorithm("HTTPS")
                    .build();
        } catch (SSLException | IllegalArgumentException e) {
            throw unusable(settings, e);
        }
    }

    /**
     * A client handler for {@code host:port}: the cache's certificate must carry {@code host} as a DNS or IP
     * subject alternative name (HTTPS endpoint identification), or the handshake fails.
     */
    public static SslHandler clientHandler(SslContext context, ByteBufAllocator alloc, String host, int port) {
        SslHandler handler = context.newHandler(alloc, host, port);
        // Netty's default wrap size (one 16 KiB record per call) on purpose: larger units made SslHandler's output
        // buffers too big for its pooled allocator, so every wrap wrote into fresh memory (bench/README.md)
        SSLEngine engine = handler.engine();
        SSLParameters params = engine.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(params);
        return handler;
    }

    private static TrustManagerFactory caTrust(Path ca) throws IOException {
        readable(ca, "--tls-ca");
        try (InputStream in = Files.newInputStream(ca)) {
            Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certs.isEmpty()) {
                throw new IOException("--tls-ca " + ca + ": no certificate in it (expected: PEM CA certificate)");
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate cert : certs) {
                store.setCertificateEntry("ca-" + i++, cert);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            return tmf;
        } catch (GeneralSecurityException e) {
            throw new IOException("--tls-ca " + ca + ": " + e.getMessage() + " (expected: PEM CA certificate)", e);
        }
    }

    private static Path readable(Path file, String option) throws IOException {
        if (!Files.isReadable(file)) {
            throw new IOException(option + " " + file + ": not readable (expected: a PEM file); 'ferry certs' can"
                    + " create it, see docs/security.md");
        }
        return file;
    }

    private static IOException unusable(TlsSettings settings, Exception e) {
        return new IOException("TLS: cannot use --tls-cert " + settings.certificate() + " / --tls-key " + settings.key()
                + ": " + e.getMessage() + " (expected: PEM certificate chain and its PKCS#8 PEM key)", e);
    }
}
