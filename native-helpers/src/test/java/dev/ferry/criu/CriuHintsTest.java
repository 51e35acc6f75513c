package dev.ferry.criu;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CriuHintsTest {

    /** The lines CRIU 4.2.1 logged in CI when two dumps of PID-namespaced trees collided on /crtools-proc. */
    private static final List<String> PROC_COLLISION = List.of(
            "pie: 1: Error (criu/pie/parasite.c:634): Can't create a directory (-17)",
            "pie: 1: Error (criu/pie/parasite.c:828): can't get /proc fd",
            "(00.104704) Error (compel/src/lib/infect-rpc.c:68): Command 76 for daemon failed with -1",
            "(00.104706) Error (criu/parasite-syscall.c:320): Parasite failed to dump /proc/self/cgroup",
            "(00.107314) Error (criu/cr-dump.c:1975): Dumping FAILED.");

    @Test
    void parasiteProcCollisionIsTransientAndExplained() {
        assertTrue(CriuHints.isTransientDumpFailure(PROC_COLLISION));
        assertTrue(CriuHints.advice(PROC_COLLISION).contains("/crtools-proc"), CriuHints.advice(PROC_COLLISION));
    }

    @Test
    void otherFailuresAreNotRetried() {
        assertFalse(CriuHints.isTransientDumpFailure(List.of(
                "(00.1) Error (criu/cr-dump.c:1975): Dumping FAILED.")));
        assertFalse(CriuHints.isTransientDumpFailure(List.of(
                "Error (criu/mkdir.c:1): Can't create a directory (-17)")), "EEXIST alone is not the /proc collision");
        assertFalse(CriuHints.isTransientDumpFailure(List.of()));
    }

    @Test
    void pidInUseGetsThePidNamespaceAdvice() {
        String advice = CriuHints.advice(List.of("(00.2) Error (criu/cr-restore.c:1): Can't fork for 4242: File exists"));
        assertTrue(advice.contains("unshare -pf"), advice);
        assertEquals("", CriuHints.advice(List.of("(00.2) nothing to see")));
    }
}
