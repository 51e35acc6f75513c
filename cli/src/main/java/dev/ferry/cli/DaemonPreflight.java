package dev.ferry.cli;

import dev.ferry.criu.Criu;
import dev.ferry.criu.CriuNotFoundException;
import dev.ferry.criu.KerndatCache;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlAccess;
import dev.ferry.protocol.tls.TlsSettings;

/**
 * The checks both daemons make before they start, in the same order, each failing with the exit code and
 * the message the user sees: TLS files, the plain-TCP policy, the control group, then CRIU. Once CRIU is found,
 * its kernel-probe cache is primed where CRIU would not keep one ({@link KerndatCache}; never fails the start).
 */
final class DaemonPreflight {

    private static final System.Logger LOG = System.getLogger(DaemonPreflight.class.getName());

    /** A failed check: print {@code "ferry <daemon>: " + message} and exit with {@code code}. */
    static final class Refusal extends Exception {
        final ExitCode code;

        Refusal(ExitCode code, String message) {
            super(message);
            this.code = code;
        }
    }

    /** What the checks found, for the daemon's config. */
    record Checked(TlsSettings tls, Criu criu) { }

    private DaemonPreflight() {
    }

    /**
     * @param daemon  image-cache or image-proxy
     * @param verb    "listen on" or "dial", for the plain-TCP message
     * @param address the address listened on or dialed
     */
    static Checked run(String daemon, String verb, String address, boolean insecure, TlsOptions tlsOptions,
                       String controlGroup, CriuOption criuOption) throws Refusal {
        TlsSettings tls;
        try {
            tls = tlsOptions.settings();
            ControlAccess.forGroup(controlGroup);
        } catch (IllegalArgumentException e) {
            throw new Refusal(ExitCode.USAGE, e.getMessage());
        }
        String refusal = PlainLinkPolicy.refusal(daemon, verb, address, tls != null, insecure);
        if (refusal != null) {
            throw new Refusal(ExitCode.USAGE, refusal);
        }
        Criu criu;
        try {
            criu = criuOption.locate();
        } catch (CriuNotFoundException e) {
            throw new Refusal(ExitCode.CRIU_MISSING, e.getMessage());
        }
        KerndatCache.Outcome kdat = KerndatCache.prime(criu);
        LOG.log(kdat == KerndatCache.Outcome.FAILED ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                kdat.message());
        return new Checked(tls, criu);
    }
}
