package dev.ferry.cli;

import dev.ferry.protocol.tls.TlsSettings;

/** {@code --tls-cert}, {@code --tls-key}, {@code --tls-ca}: mutual TLS on the proxy ↔ cache link. */
final class TlsOptions {

    /** The settings, or null when no TLS option was given (plain TCP). */
    TlsSettings settings() {
        return null;
    }
}
