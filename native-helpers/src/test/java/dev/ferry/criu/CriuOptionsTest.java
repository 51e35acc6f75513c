package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.criu.CriuRpc;
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
    void restoreRpcCarriesTheSameOptionsAsTheCommandLine() {
        CriuOptions options = new CriuOptions(true, true, true, true, true, true, "nftables", "strict",
                List.of("cpu:/ferry", "/ferry"));
        CriuRpc.criu_opts opts = options.restoreRpc(CriuRpc.criu_opts.newBuilder().setImagesDirFd(3)).build();
        assertTrue(opts.getShellJob() && opts.getTcpEstablished() && opts.getExtUnixSk() && opts.getFileLocks()
                && opts.getTcpClose(), opts::toString);
        assertEquals(CriuRpc.criu_cg_mode.STRICT, opts.getManageCgroupsMode());
        assertEquals(2, opts.getCgRootCount());
        assertEquals("cpu", opts.getCgRoot(0).getCtrl());
        assertEquals("/ferry", opts.getCgRoot(0).getPath());
        assertFalse(opts.getCgRoot(1).hasCtrl());
        assertEquals("/ferry", opts.getCgRoot(1).getPath());
        assertFalse(opts.hasLazyPages(), "restoreRpc sets only what the options say");

        CriuRpc.criu_opts none = CriuOptions.defaults().restoreRpc(CriuRpc.criu_opts.newBuilder()).build();
        assertEquals(CriuRpc.criu_opts.getDefaultInstance(), none);
        for (String mode : CriuOptions.CGROUP_MODES) {
            CriuRpc.criu_cg_mode m = new CriuOptions(false, false, false, false, false, false, null, mode, null)
                    .restoreRpc(CriuRpc.criu_opts.newBuilder()).build().getManageCgroupsMode();
            assertEquals(mode.equals("none") ? "CG_NONE" : mode.toUpperCase(java.util.Locale.ROOT), m.name());
        }
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
