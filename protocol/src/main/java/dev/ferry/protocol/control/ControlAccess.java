package dev.ferry.protocol.control;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.List;
import java.util.Objects;

/**
 * Who may use a daemon's control socket: root always; with a control group ({@code --control-group NAME})
 * also every caller whose primary group (the group {@code SO_PEERCRED} reports) is that group, or who is
 * listed as a member of it in {@code /etc/group}.
 *
 * <p>Membership is read from the group file on every check, so adding a user to the group takes effect for
 * their next call without restarting the daemon. Only {@code /etc/group} is consulted (no NSS/LDAP/sssd):
 * on such systems make the group the callers' primary group, or list them in {@code /etc/group}.
 * Immutable and thread-safe.
 */
public final class ControlAccess {

    /** The local group database. */
    public static final Path ETC_GROUP = Path.of("/etc/group");

    private static final ControlAccess ROOT_ONLY = new ControlAccess(null, null, ETC_GROUP);

    private final String group;
    private final GroupPrincipal principal;
    private final Path groupFile;

    private ControlAccess(String group, GroupPrincipal principal, Path groupFile) {
        this.group = group;
        this.principal = principal;
        this.groupFile = groupFile;
    }

    /** Root callers only: socket 0600, run dir 0700. */
    public static ControlAccess rootOnly() {
        return ROOT_ONLY;
    }

    /**
     * Root and the members of {@code group}; null or blank means {@link #rootOnly()}.
     *
     * @throws IllegalArgumentException if the group does not exist on this system
     */
    public static ControlAccess forGroup(String group) {
        return forGroup(group, ETC_GROUP);
    }

    static ControlAccess forGroup(String group, Path groupFile) {
        if (group == null || group.isBlank()) {
            return ROOT_ONLY;
        }
        return new ControlAccess(group, lookup(group), groupFile);
    }

    /** The group principal for {@code name}, or IllegalArgumentException naming the flag and what to do. */
    static GroupPrincipal lookup(String name) {
        Objects.requireNonNull(name, "name");
        try {
            return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(name);
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalArgumentException("--control-group: no group '" + name + "' on this system (expected: an"
                    + " existing group name, see 'getent group'); create it first, e.g. 'groupadd " + name + "'");
        } catch (IOException e) {
            throw new IllegalArgumentException("--control-group: cannot look up group '" + name + "': " + e.getMessage());
        }
    }

    /** The control group's name, or null when only root is allowed. */
    public String group() {
        return group;
    }

    /** The control group, or null when only root is allowed. */
    public GroupPrincipal groupPrincipal() {
        return principal;
    }

    /** Whether a caller of this user and primary group may use the socket. */
    public boolean allows(String user, String primaryGroup) {
        if ("root".equals(user)) {
            return true;
        }
        if (group == null) {
            return false;
        }
        return group.equals(primaryGroup) || members(groupFile, group).contains(user);
    }

    /** What the run dir and socket allow, for logs. */
    public String describe() {
        return group == null ? "root only" : "root and group " + group;
    }

    /** What a refused caller should do to get access. */
    public String remedy(String user) {
        if (group == null) {
            return "run ferry as root, or start the daemon with --control-group GROUP and add " + user + " to GROUP";
        }
        return "run ferry as root, or add " + user + " to group " + group + " (usermod -aG " + group + " " + user
                + ") and log in again";
    }

    /** The members listed for {@code group} in a group(5) file; empty if it is not there or cannot be read. */
    static List<String> members(Path groupFile, String group) {
        List<String> lines;
        try {
            lines = Files.readAllLines(groupFile);
        } catch (IOException e) {
            return List.of();
        }
        for (String line : lines) {
            String[] f = line.split(":", -1);
            if (f.length >= 4 && f[0].equals(group)) {
                return f[3].isBlank() ? List.of() : List.of(f[3].trim().split("\\s*,\\s*"));
            }
        }
        return List.of();
    }
}
