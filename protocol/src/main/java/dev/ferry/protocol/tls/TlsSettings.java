package dev.ferry.protocol.tls;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Mutual TLS for the proxy ↔ cache link: this node's certificate chain and key, the CA its peers must
 * chain to, and (cache side) the peer names allowed in. Null where a config holds no TLS at all.
 *
 * @param certificate PEM certificate chain of this node ({@code --tls-cert})
 * @param key         PEM private key of this node ({@code --tls-key})
 * @param ca          PEM CA certificate(s) peers must chain to ({@code --tls-ca})
 * @param allowedPeers names (CN or DNS/IP SAN) a cache accepts; empty = any certificate from the CA
 */
public record TlsSettings(Path certificate, Path key, Path ca, List<String> allowedPeers) {
    public TlsSettings {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(ca, "ca");
        allowedPeers = allowedPeers == null ? List.of() : List.copyOf(allowedPeers);
    }
}
