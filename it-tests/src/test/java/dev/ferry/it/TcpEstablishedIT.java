package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * An established TCP connection whose both ends live in the dumped tree (server and client on
 * 127.0.0.1) survives the move: no reset, no lost or repeated request.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TcpEstablishedIT {

    private static final int PORT = 7300;
    @RegisterExtension
    static final LabExtension LAB = new LabExtension(13, LabExtension.Daemons.BOTH, true);

    @Test
    void establishedLoopbackConnectionSurvives_noResetNoGapNoDuplicate() throws Exception {
        Path script = LAB.fx().script("tcppair.py");
        ReplyLog replies = new ReplyLog(LAB.fx().path("tcp.replies.log"));
        Workload source = LAB.fx().startWorkload(List.of("/usr/bin/python3", script.toString(), Integer.toString(PORT),
                replies.log().toString(), "0.02"), LAB.fx().path("tcp.out.log"));

        replies.await(LAB.fx(), 25, 15_000, "before the dump");
        assertTrue(replies.errors().isEmpty(), () -> "client errors before the dump: " + replies.errors());

        FerryResult dump = LAB.fx().dump(source.pid(), "tcp", "--tcp-established", "--network-lock", "iptables");
        assertEquals(0, dump.exitCode(), () -> "ferry dump --tcp-established failed\n" + dump.describe()
                + LAB.fx().diagnostics());
        assertTrue(ProcFs.awaitGone(source.pid(), 5_000),
                () -> "source pid " + source.pid() + " still runs after a successful dump" + LAB.fx().diagnostics());
        Thread.sleep(100);
        long atDump = replies.lastN();

        Path pidfile = LAB.fx().path("tcp.pid");
        FerryResult restore = LAB.fx().restore("tcp", pidfile, "--tcp-established");
        assertEquals(0, restore.exitCode(), () -> "ferry restore --tcp-established failed\n" + restore.describe()
                + LAB.fx().diagnostics());
        long restored = LAB.fx().restoredPid(pidfile);
        assertTrue(LAB.fx().lab().processInNode(restored, LAB.fx().lab().targetNs()),
                () -> "restored pid " + restored + " is not in the target netns");

        replies.await(LAB.fx(), atDump + 50, 20_000, "after the restore (last reply before the dump: " + atDump + ")");
        assertTrue(replies.errors().isEmpty(), () -> "the connection broke across the migration: "
                + replies.errors() + LAB.fx().diagnostics());
        List<String> gaps = replies.discontinuities();
        assertTrue(gaps.isEmpty(), () -> "server counter has gaps or duplicates: " + gaps);
        assertTrue(ProcFs.isRunning(restored), "restored server died");
        assertTrue(LAB.fx().imageFiles().isEmpty(), "checkpoint images were written to disk");
        System.out.printf("TcpEstablishedIT: request %d at dump, %d now, longest reply gap %d ms%n", atDump,
                replies.lastN(), replies.maxGapMillis());
    }

}
