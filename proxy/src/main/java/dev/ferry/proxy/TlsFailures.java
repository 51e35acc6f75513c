package dev.ferry.proxy;

import javax.net.ssl.SSLException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.Optional;

/** Turns a failed TLS handshake with the image-cache into a message that says why and which option fixes it. */
final class TlsFailures {

    private TlsFailures() {
    }

    /** The TLS failure in {@code t}'s cause chain, if any. */
    static Optional<SSLException> find(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SSLException ssl) {
                return Optional.of(ssl);
            }
        }
        return Optional.empty();
    }

    static String describe(String target, String host, Throwable cause) {
        return "TLS failed with the image-cache at " + target + ": " + why(host, cause) + " (" + innermost(cause) + ")";
    }

    private static String why(String host, Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof CertificateExpiredException || c instanceof CertificateNotYetValidException) {
                return "the certificate of " + host + " is outside its validity dates; issue a new one with 'ferry certs issue'";
            }
            String m = String.valueOf(c.getMessage());
            if (m.contains("No subject alternative") || m.contains("No name matching")) {
                return "the certificate of " + host + " does not name " + host + " (expected: a DNS or IP SAN '" + host
                        + "'); issue it with 'ferry certs issue NAME --san " + host + "' or dial the name it carries";
            }
            if (m.contains("PKIX path") || m.contains("certification path")) {
                return "the certificate of " + host + " is not signed by the --tls-ca";
            }
            // JDK engine: "Received fatal alert: ..."; BoringSSL: "...:SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_..."
            if (m.contains("Received fatal alert") || m.contains("certificate_required") || m.contains("_ALERT_")) {
                return "the image-cache refused our certificate (expected: --tls-cert signed by the cache's --tls-ca,"
                        + " valid today, and named in its --tls-allow); see its log";
            }
            if (m.contains("not an SSL/TLS record") || m.contains("Unsupported or unrecognized SSL message")) {
                return "the image-cache does not speak TLS (expected: it started with --tls-cert/--tls-key/--tls-ca)";
            }
        }
        return "handshake did not complete; is the image-cache started with --tls-cert/--tls-key/--tls-ca?";
    }

    private static String innermost(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }
}
