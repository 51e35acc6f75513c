package dev.ferry.protocol.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who a control socket accepts: root, the control group as primary group, its members in the group file. */
class ControlAccessTest {

    @TempDir
    Path dir;

    @Test
    void rootOnlyAcceptsRootAndNobodyElse() {
        ControlAccess a = ControlAccess.rootOnly();
        assertNull(a.group());
        assertTrue(a.allows("root", "root"));
        assertFalse(a.allows("alice", "root"));
        assertFalse(a.allows("nobody", "nogroup"));
        assertTrue(a.remedy("alice").contains("--control-group"), a.remedy("alice"));
        assertEquals(a, ControlAccess.forGroup(null));
        assertEquals(a, ControlAccess.forGroup(" "));
    }

    @Test
    void groupAcceptsPrimaryGroupAndListedMembers() throws IOException {
        Path groupFile = dir.resolve("group");
        Files.write(groupFile, List.of("root:x:0:", "nogroup:x:65534:alice, bob", "other:x:5:carol"));
        ControlAccess a = ControlAccess.forGroup("nogroup", groupFile); // exists on every Debian system
        assertTrue(a.allows("root", "root"));
        assertTrue(a.allows("nobody", "nogroup"), "primary group");
        assertTrue(a.allows("alice", "users"), "listed member");
        assertTrue(a.allows("bob", "users"), "listed member after a space");
        assertFalse(a.allows("carol", "users"), "member of another group only");
        assertFalse(a.allows("dave", "other"));
        assertTrue(a.remedy("dave").contains("usermod -aG nogroup dave"), a.remedy("dave"));
    }

    @Test
    void unknownGroupIsRefusedWithWhatToDo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ControlAccess.forGroup("no-such-group-ferry"));
        assertTrue(e.getMessage().contains("--control-group"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-group-ferry"), e.getMessage());
        assertTrue(e.getMessage().contains("groupadd"), e.getMessage());
    }

    @Test
    void missingGroupFileMeansNoListedMembers() {
        assertTrue(ControlAccess.members(dir.resolve("absent"), "x").isEmpty());
    }
}
