package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CriuOptionsTest {

    @Test
    void defaultsRenderNothing() {
        assertEquals(List.of(), CriuOptions.defaults().dumpArgs());
        assertEquals(List.of(), CriuOptions.defaults().restoreArgs());
    }

    @Test
    void rendersCriuOptionNames() {
        CriuOptions options = new CriuOptions(true, true, true, true, true, true, "nftables", "soft",
                List.of("cpu:/ferry", "/ferry"));
        assertEquals(List.of("--leave-running", "--shell-job", "--tcp-established", "--ext-unix-sk", "--file-locks",
                "--tcp-close", "--manage-cgroups=soft", "--cgroup-root", "cpu:/ferry", "--cgroup-root", "/ferry",
                "--network-lock", "nftables"), options.dumpArgs());
        assertEquals(List.of("--shell-job", "--tcp-established", "--ext-unix-sk", "--file-locks", "--tcp-close",
                "--manage-cgroups=soft", "--cgroup-root", "cpu:/ferry", "--cgroup-root", "/ferry"), options.restoreArgs());
    }

    @Test
    void emptyNetworkLockMeansCriuDefault() {
        CriuOptions options = new CriuOptions(false, false, false, false, false, false, "", null, null);
        assertEquals(null, options.networkLock());
        assertEquals(List.of(), options.cgroupRoots());
        assertEquals(List.of(), options.dumpArgs());
    }

    @Test
    void refusesUnknownNetworkLock() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CriuOptions(false, false, false, false, false, false, "ipfw", null, List.of()));
        assertTrue(e.getMessage().contains("'ipfw' (expected: nftables, iptables or skip"), e.getMessage());
    }

    @Test
    void refusesUnknownCgroupMode() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CriuOptions(false, false, false, false, false, false, null, "all", List.of()));
        assertTrue(e.getMessage().contains("--manage-cgroups: 'all' (expected: none, props, soft, full, strict or ignore)"),
                e.getMessage());
    }

    @Test
    void refusesBlankCgroupRoot() {
        assertThrows(IllegalArgumentException.class,
                () -> new CriuOptions(false, false, false, false, false, false, null, null, List.of(" ")));
    }
}
