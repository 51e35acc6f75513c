package dev.ferry.protocol.tls;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The cache's trust decision on a client certificate: it must chain to {@code --tls-ca} (the JDK's PKIX
 * checks: signature, validity dates, key usage) and, when {@code --tls-allow} names peers, carry one of
 * those names as its CN or a DNS/IP SAN. A refusal fails the TLS handshake, so the peer gets a TLS alert
 * and not one frame of it is read. Thread-safe (immutable).
 */
final class AllowedPeersTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager ca;
    private final List<String> allowed;

    AllowedPeersTrustManager(TrustManagerFactory caTrust, List<String> allowed) {
        this.ca = find(caTrust);
        this.allowed = List.copyOf(allowed);
    }

    private static X509ExtendedTrustManager find(TrustManagerFactory tmf) {
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new IllegalStateException("no X509 trust manager in " + tmf.getAlgorithm());
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        ca.checkClientTrusted(chain, authType, engine);
        checkAllowed(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        ca.checkClientTrusted(chain, authType, socket);
        checkAllowed(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        ca.checkClientTrusted(chain, authType);
        checkAllowed(chain);
    }

    private void checkAllowed(X509Certificate[] chain) throws CertificateException {
        if (!PeerNames.allowed(chain[0], allowed)) {
            throw new CertificateException("peer certificate names " + PeerNames.of(chain[0])
                    + " (expected: one of --tls-allow " + allowed + ")");
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        ca.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        ca.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        ca.checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return ca.getAcceptedIssuers();
    }
}
