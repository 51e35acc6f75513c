package dev.ferry.net;

import dev.ferry.posix.HostCommand;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The service address a migration hands over ({@code --move-ip ADDR/PREFIX[@DEV]}), and the host operations on it
 * in the caller's network namespace, through iproute2 and arping: whether it is assigned here and on which device,
 * adding it quietly (no announcement: peers keep sending to the source, whose network lock drops their packets, so
 * nobody answers them with a reset), announcing it with a gratuitous ARP, removing it. IPv4 only.
 *
 * @param device the device named after '@', or null to pick one (the device holding it, or the route towards it)
 */
public record ServiceAddress(InetAddress address, int prefix, String device) {

    private static final Pattern SYNTAX = Pattern.compile("([0-9.]+)(?:/(\\d{1,2}))?(?:@([A-Za-z0-9_.:-]{1,15}))?");
    private static final Pattern DEV = Pattern.compile("\\bdev\\s+(\\S+)");

    /**
     * Parses {@code ADDR/PREFIX[@DEV]}; PREFIX defaults to 32.
     *
     * @throws IllegalArgumentException with what was expected, what was found and what to do
     */
    public static ServiceAddress parse(String text) {
        Matcher m = SYNTAX.matcher(text == null ? "" : text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("--move-ip '" + text + "': expected ADDR/PREFIX[@DEV] with an IPv4"
                    + " address, e.g. 10.0.0.100/32 or 10.0.0.100/24@eth0");
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(m.group(1));
        } catch (UnknownHostException e) {
            address = null;
        }
        if (!(address instanceof Inet4Address) || m.group(1).split("\\.").length != 4) {
            throw new IllegalArgumentException("--move-ip '" + text + "': '" + m.group(1) + "' is not an IPv4 address"
                    + " (expected four numbers 0-255, e.g. 10.0.0.100)");
        }
        int prefix = m.group(2) == null ? 32 : Integer.parseInt(m.group(2));
        if (prefix < 1 || prefix > 32) {
            throw new IllegalArgumentException("--move-ip '" + text + "': prefix /" + prefix + " (expected 1 to 32)");
        }
        return new ServiceAddress(address, prefix, m.group(3));
    }

    public String ip() {
        return address.getHostAddress();
    }

    /** {@code ADDR/PREFIX} as iproute2 takes it. */
    public String cidr() {
        return ip() + "/" + prefix;
    }

    @Override
    public String toString() {
        return cidr() + (device == null ? "" : "@" + device);
    }

    /** The device that holds the address in this network namespace, if any. */
    public Optional<String> assignedDevice() throws IOException {
        HostCommand.Outcome out = HostCommand.run("ip", "-o", "-4", "addr", "show", "to", ip() + "/32");
        if (!out.ok()) {
            throw new IOException("cannot list addresses: " + out.describe());
        }
        for (String line : out.output().split("\n")) {
            // "2: eth0    inet 10.0.0.100/32 scope global eth0\  valid_lft ..."
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[2].equals("inet") && f[3].startsWith(ip() + "/")) {
                return Optional.of(f[1].replaceAll("@.*$", "").replaceAll(":$", ""));
            }
        }
        return Optional.empty();
    }

    /** The device to add the address on: the one named, else the one the route towards it leaves by. */
    public String deviceForAdding() throws IOException {
        if (device != null) {
            return device;
        }
        HostCommand.Outcome out = HostCommand.run("ip", "-o", "-4", "route", "get", ip());
        Matcher m = DEV.matcher(out.output());
        if (!out.ok() || !m.find() || m.group(1).equals("lo")) {
            throw new IOException("no device to put " + ip() + " on: " + (out.ok() ? "the route towards it leaves by '"
                    + (m.find(0) ? m.group(1) : "?") + "'" : out.describe()) + "; name one: --move-ip " + cidr() + "@DEV");
        }
        return m.group(1);
    }

    /** Adds the address without announcing it. */
    public void addQuietly(String dev) throws IOException {
        HostCommand.Outcome out = HostCommand.run("ip", "addr", "add", cidr(), "dev", dev);
        if (!out.ok()) {
            throw new IOException("adding " + cidr() + " on " + dev + " failed: " + out.describe());
        }
    }

    /** Sends one gratuitous ARP for the address from {@code dev}, so peers send to this node from now on. */
    public void announce(String dev) throws IOException {
        // arping sends at once but lingers about a second: leave it running, a daemon thread reaps it
        HostCommand.spawn("arping", "-q", "-U", "-c", "1", "-I", dev, "-s", ip(), ip());
    }

    /** Removes the address from {@code dev}; true if it was there. */
    public boolean remove(String dev) throws IOException {
        HostCommand.Outcome out = HostCommand.run("ip", "addr", "del", cidr(), "dev", dev);
        if (out.ok()) {
            return true;
        }
        // a different prefix length than given: delete whatever prefix it carries
        HostCommand.Outcome any = HostCommand.run("ip", "addr", "del", ip(), "dev", dev);
        return any.ok();
    }
}
