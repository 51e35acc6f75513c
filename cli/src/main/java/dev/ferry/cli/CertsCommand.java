package dev.ferry.cli;

import dev.ferry.protocol.ExitCode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/** {@code ferry certs init|issue}: a CA and node certificates for mutual TLS between image-proxy and image-cache. */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = "Create a CA and node certificates for mutual TLS on the proxy ↔ cache link (docs/security.md).",
        subcommands = {CertsCommand.Init.class, CertsCommand.Issue.class})
public final class CertsCommand implements Runnable {

    /** How long a CA made by {@code init} is valid. */
    public static final int CA_DAYS = 3650;
    /** How long a node certificate is valid unless {@code --days} says otherwise. */
    public static final int DEFAULT_NODE_DAYS = 825;

    private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "missing subcommand (expected: init or issue)");
    }

    /** {@code ferry certs init DIR}. */
    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Create a CA in DIR: ca.pem (give it to every node) and ca-key.pem (keep it secret, mode 0600).")
    static final class Init implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "DIR", description = "Directory for the CA (created mode 0700 if missing).")
        Path dir;

        @Option(names = "--name", paramLabel = "CN", description = "The CA's common name (default: ${DEFAULT-VALUE}).")
        String name = "ferry CA";

        @Override
        public Integer call() {
            var err = spec.commandLine().getErr();
            try {
                ensureDir(dir);
                Path cert = dir.resolve(CertificateIssuer.CA_CERT);
                Path key = dir.resolve(CertificateIssuer.CA_KEY);
                CertificateIssuer.requireAbsent(cert);
                CertificateIssuer.requireAbsent(key);
                KeyPair pair = CertificateIssuer.newKeyPair();
                Instant now = Instant.now();
                X509Certificate ca = CertificateIssuer.ca(pair, name, now.minus(Duration.ofMinutes(5)), now.plus(Duration.ofDays(CA_DAYS)));
                CertificateIssuer.writePrivateKey(key, pair.getPrivate());
                CertificateIssuer.writeCertificates(cert, ca);
                spec.commandLine().getOut().println("created CA '" + name + "' valid " + CA_DAYS + " days: " + cert
                        + " (copy to every node, --tls-ca) and " + key + " (keep secret; only 'ferry certs issue' needs it)");
                return ExitCode.OK.code();
            } catch (IOException | GeneralSecurityException e) {
                err.println("ferry certs init: " + e.getMessage());
                return ExitCode.FAILURE.code();
            }
        }
    }

    /** {@code ferry certs issue NAME --dir DIR [--san X]... [--days N]}. */
    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = "Issue NAME.pem and NAME-key.pem in DIR, signed by DIR's CA, for a node (CN=NAME, SANs NAME and every --san).")
    static final class Issue implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", description = "The node's name: CN and first SAN (what --tls-allow matches).")
        String name;

        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Directory holding ca.pem and ca-key.pem from 'ferry certs init'.")
        Path dir;

        @Option(names = "--san", paramLabel = "DNS_OR_IP",
                description = "Another name of the node (repeatable): the address image-proxies dial for an image-cache.")
        List<String> sans = new ArrayList<>();

        @Option(names = "--days", paramLabel = "N", description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days = DEFAULT_NODE_DAYS;

        @Override
        public Integer call() {
            var err = spec.commandLine().getErr();
            if (!NODE_NAME.matcher(name).matches()) {
                err.println("ferry certs issue: NAME '" + name + "' (expected: letters, digits, '.', '_', '-', at most 63)");
                return ExitCode.USAGE.code();
            }
            if (days <= 0) {
                err.println("ferry certs issue: --days: " + days + " (expected: > 0)");
                return ExitCode.USAGE.code();
            }
            for (String san : sans) {
                if (san.isBlank() || san.contains("/") || san.contains(" ")) {
                    err.println("ferry certs issue: --san '" + san + "' (expected: a DNS name or an IP address)");
                    return ExitCode.USAGE.code();
                }
            }
            try {
                Path caCert = dir.resolve(CertificateIssuer.CA_CERT);
                Path caKey = dir.resolve(CertificateIssuer.CA_KEY);
                if (!Files.isReadable(caCert) || !Files.isReadable(caKey)) {
                    err.println("ferry certs issue: no CA in " + dir + " (expected: " + CertificateIssuer.CA_CERT + " and "
                            + CertificateIssuer.CA_KEY + "); create one with 'ferry certs init " + dir + "'");
                    return ExitCode.USAGE.code();
                }
                Path cert = dir.resolve(name + ".pem");
                Path key = dir.resolve(name + "-key.pem");
                CertificateIssuer.requireAbsent(cert);
                CertificateIssuer.requireAbsent(key);
                X509Certificate ca = CertificateIssuer.readCertificate(caCert);
                PrivateKey signer = CertificateIssuer.readPrivateKey(caKey);
                KeyPair pair = CertificateIssuer.newKeyPair();
                Instant now = Instant.now();
                X509Certificate issued = CertificateIssuer.node(ca, signer, pair.getPublic(), name, sans,
                        now.minus(Duration.ofMinutes(5)), now.plus(Duration.ofDays(days)));
                CertificateIssuer.writePrivateKey(key, pair.getPrivate());
                CertificateIssuer.writeCertificates(cert, issued);
                List<String> names = new ArrayList<>(List.of(name));
                sans.stream().filter(s -> !s.equals(name)).forEach(names::add);
                spec.commandLine().getOut().println("issued " + cert + " and " + key + " (mode 0600) for " + names
                        + ", valid " + days + " days, signed by " + caCert);
                return ExitCode.OK.code();
            } catch (IOException | GeneralSecurityException e) {
                err.println("ferry certs issue: " + e.getMessage());
                return ExitCode.FAILURE.code();
            }
        }
    }

    static void ensureDir(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }
}
