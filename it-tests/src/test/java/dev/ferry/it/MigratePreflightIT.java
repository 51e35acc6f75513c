package dev.ferry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.lab.FerryResult;
import dev.ferry.cli.lab.ProcFs;
import dev.ferry.cli.lab.Workload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A migration whose preflight fails changes nothing: no CRIU runs on the source (no dump work dir appears), the
 * process never stops, and the message says why. The target's image-cache runs a second CRIU launcher that reports
 * another version.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MigratePreflightIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension(20, LabExtension.Daemons.NONE, true);

    @Test
    void unreachableCacheOrCriuVersionMismatchFreezesNothing() throws Exception {
        LabFixture fx = LAB.fx();
        Path fake = fx.path("criu-4.2.99");
        Files.writeString(fake, "#!/bin/sh\n# reports another version, otherwise the real CRIU\n"
                + "if [ \"$1\" = --version ]; then echo 'Version: 4.2.99'; exit 0; fi\nexec " + fx.criu() + " \"$@\"\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        fx.daemons().cacheCriu(fake).start();

        ReplyLog ticks = new ReplyLog(fx.path("ticks.log"));
        Workload ticker = fx.startWorkload(List.of("/usr/bin/python3", fx.script("ticker.py").toString(),
                ticks.log().toString()), fx.path("ticker.out.log"));
        ticks.await(LAB.fx(), 10, 15_000, "before the migrations");
        Path work = fx.daemons().sourceRunDir().resolve("proxy-work");

        FerryResult unreachable = fx.migrate(ticker.pid(), "--to", fx.lab().targetIp() + ":27999");
        assertEquals(6, unreachable.exitCode(), () -> "expected exit 6 (image-cache unreachable)\n" + unreachable.describe());
        assertTrue(unreachable.stderr().contains("27999"), unreachable::describe);

        FerryResult mismatch = fx.migrate(ticker.pid());
        assertEquals(7, mismatch.exitCode(), () -> "expected exit 7 (refused)\n" + mismatch.describe() + fx.diagnostics());
        assertTrue(mismatch.stderr().contains("4.2.99") && mismatch.stderr().contains("4.2.1"),
                () -> "the message does not name both versions\n" + mismatch.describe());
        assertTrue(mismatch.stderr().contains("before anything was frozen"), mismatch::describe);

        assertEquals(0, dumpWorkDirs(work), "CRIU ran on the source although the preflight failed");
        long before = ticks.lastN();
        ticks.await(LAB.fx(), before + 10, 5_000, "after the refused migrations");
        assertTrue(ProcFs.isRunning(ticker.pid()), "the process is not running");
        assertEquals(List.of(), ticks.discontinuities(), "the ticker was disturbed");
    }

    private static long dumpWorkDirs(Path work) throws Exception {
        if (!Files.isDirectory(work)) {
            return 0;
        }
        try (Stream<Path> dirs = Files.list(work)) {
            return dirs.filter(p -> p.getFileName().toString().startsWith("d-")).count();
        }
    }
}
