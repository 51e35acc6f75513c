package dev.ferry.cli;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.logging.Logger;

/**
 * The secure default of the proxy ↔ cache link: plain TCP only on loopback, unless the user says
 * {@code --insecure}. Checked before anything binds or dials, so a refusal sends nothing.
 */
final class PlainLinkPolicy {

    private static final Logger LOG = Logger.getLogger(PlainLinkPolicy.class.getName());

    private PlainLinkPolicy() {
    }

    /**
     * Null when the link may start, else the message that explains the refusal.
     *
     * @param command  "image-cache" or "image-proxy", for the message
     * @param what     "listen on" or "dial", for the message
     * @param address  the --listen or --address value
     * @param tls      whether --tls-cert/--tls-key/--tls-ca were given
     * @param insecure whether --insecure was given
     */
    static String refusal(String command, String what, String address, boolean tls, boolean insecure) {
        if (tls) {
            if (insecure) {
                LOG.warning(() -> "--insecure has no effect: the link uses mutual TLS");
            }
            return null;
        }
        if (insecure) {
            LOG.warning(() -> command + ": --insecure: the link to " + address + " is plain TCP, neither encrypted nor"
                    + " authenticated; whoever reaches it can read the images (the process's memory) or send images that"
                    + " run as root on the target. Use it only on a network you trust; see docs/security.md");
            return null;
        }
        if (isLoopback(address)) {
            return null;
        }
        return "refusing to " + what + " " + address + " without TLS: whoever can send images to the image-cache can run"
                + " code as root on the target node (a restore runs what the images say), and images carry the process's"
                + " memory, secrets included, in the clear. Either use mutual TLS with --tls-cert, --tls-key and --tls-ca"
                + " ('ferry certs' creates them; see docs/security.md), or pass --insecure if this network is trusted";
    }

    static boolean isLoopback(String address) {
        try {
            return InetAddress.getByName(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false; // cannot prove it is local: treat as remote
        }
    }
}
