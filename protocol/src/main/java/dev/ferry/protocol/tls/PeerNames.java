package dev.ferry.protocol.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/** The names a certificate gives its holder: the subject's CN, then its DNS and IP subject alternative names. */
public final class PeerNames {

    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;

    private PeerNames() {
    }

    /** CN first, then SANs, without repeats. */
    public static List<String> of(X509Certificate cert) {
        Set<String> names = new LinkedHashSet<>();
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    names.add(String.valueOf(rdn.getValue()));
                }
            }
        } catch (InvalidNameException e) {
            // no CN to offer; the SANs may still name the peer
        }
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == SAN_DNS || type == SAN_IP) {
                        names.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // a certificate with unreadable SANs is named by its CN alone
        }
        return new ArrayList<>(names);
    }

    /** True when {@code allowed} is empty or names one of the certificate's names (case-insensitive). */
    public static boolean allowed(X509Certificate cert, List<String> allowed) {
        if (allowed.isEmpty()) {
            return true;
        }
        for (String name : of(cert)) {
            for (String a : allowed) {
                if (a.equalsIgnoreCase(name)) {
                    return true;
                }
            }
        }
        return false;
    }
}
