package dev.ferry.cli;

import dev.ferry.protocol.control.MigrateRequest;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MigrateCommandTest {

    @Test
    void toTakesHostAndOptionalPort() {
        MigrateRequest.Builder b = MigrateRequest.newBuilder();
        assertNull(MigrateCommand.setTarget(b, "10.0.0.2:27028"));
        assertEquals("10.0.0.2", b.getToHost());
        assertEquals(27028, b.getToPort());
        MigrateRequest.Builder c = MigrateRequest.newBuilder();
        assertNull(MigrateCommand.setTarget(c, "target.example"));
        assertEquals("target.example", c.getToHost());
        assertEquals(0, c.getToPort(), "no port: the proxy's own");
        assertTrue(MigrateCommand.setTarget(MigrateRequest.newBuilder(), "10.0.0.2:http").contains("expected"));
        assertTrue(MigrateCommand.setTarget(MigrateRequest.newBuilder(), "10.0.0.2:70000").contains("expected"));
        assertTrue(MigrateCommand.setTarget(MigrateRequest.newBuilder(), ":27027").contains("expected"));
    }

    @Test
    void cgroupRootGoesToTheTargetsRestoreOnly_everyOtherCriuOptionToBoth() {
        MigrateCommand m = new MigrateCommand();
        new CommandLine(m).parseArgs("-t", "42", "--shell-job", "--ext-unix-sk", "--file-locks", "--manage-cgroups",
                "soft", "--cgroup-root", ":/web", "--cgroup-root", "memory:/web");
        MigrateRequest r = m.request().build();
        assertEquals(java.util.List.of(), r.getCriu().getCgroupRootList(), "a dump reads --cgroup-root as its own root");
        assertEquals(java.util.List.of(":/web", "memory:/web"), r.getRestore().getCgroupRootList());
        for (var o : java.util.List.of(r.getCriu(), r.getRestore())) {
            assertTrue(o.getShellJob() && o.getExtUnixSk() && o.getFileLocks(), o.toString());
            assertEquals("soft", o.getManageCgroups());
        }
    }

    @Test
    void badMoveIpIsAUsageErrorBeforeAnyDaemonIsAsked() {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new FerryCommand()).setErr(new PrintWriter(err));
        int code = cl.execute("migrate", "-t", "1", "--move-ip", "10.0.0.1/40", "--run-dir", "/nonexistent-ferry-test");
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().contains("prefix /40 (expected 1 to 32)"), err.toString());
    }
}
