package dev.ferry.cli;

import dev.ferry.protocol.tls.TlsSettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code --tls-cert}, {@code --tls-key}, {@code --tls-ca}: mutual TLS on the proxy ↔ cache link. */
final class TlsOptions {

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "This node's certificate chain (PEM); enables mutual TLS.")
    Path certificate;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "This node's private key (PEM).")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "PEM", description = "CA certificate the peer's certificate must chain to (PEM).")
    Path ca;

    @Option(names = "--tls-allow", paramLabel = "NAME",
            description = "image-cache: accept only peers whose certificate names NAME (repeatable; default: any from the CA).")
    List<String> allowed = new ArrayList<>();

    /** The settings, or null when no TLS option was given (plain TCP); all three files or none. */
    TlsSettings settings() {
        int given = (certificate != null ? 1 : 0) + (key != null ? 1 : 0) + (ca != null ? 1 : 0);
        if (given == 0) {
            if (!allowed.isEmpty()) {
                throw new IllegalArgumentException("--tls-allow without --tls-cert/--tls-key/--tls-ca (expected: all"
                        + " three TLS files with it); see docs/security.md");
            }
            return null;
        }
        if (given != 3) {
            throw new IllegalArgumentException("TLS: " + given + " of --tls-cert, --tls-key, --tls-ca given (expected: all"
                    + " three); 'ferry certs' can create them, see docs/security.md");
        }
        return new TlsSettings(certificate, key, ca, allowed);
    }
}
