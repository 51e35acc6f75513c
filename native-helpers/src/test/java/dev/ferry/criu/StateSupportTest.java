package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class StateSupportTest {

    @Test
    void featureIsSupportedWhenCriuSaysSoAndExitsZero() {
        assertNull(StateSupport.parseFeature("fdinfo_lock", 0,
                "Warn  (criu/kerndat.c:1799): Hardware breakpoints don't seem to work (status=137f)\n"
                        + "fdinfo_lock is supported\n"));
    }

    @Test
    void unsupportedFeatureShowsCriusLastMeaningfulLine() {
        assertEquals("not supported (Error (criu/cr-check.c:1650): timerfd isn't supported)",
                StateSupport.parseFeature("timerfd", 1, "Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE"
                        + " for self: Operation not permitted\nError (criu/cr-check.c:1650): timerfd isn't supported\n"));
        assertEquals("not supported (exit 1)", StateSupport.parseFeature("timerfd", 1, ""));
        assertEquals("not supported (no_such is supported)", StateSupport.parseFeature("no_such", 2,
                "no_such is supported\n"));
    }

    @Test
    void roundTripsThroughTheWire() {
        StateSupport s = new StateSupport("file-locks", true, "criu feature fdinfo_lock");
        assertEquals(s, StateSupport.fromProto(s.toProto()));
    }

    @Test
    void everyStateOfTheDocsIsProbed() {
        assertEquals(java.util.List.of("shell-job", "unix-sockets", "ext-unix-sk", "file-locks", "cgroup-v2", "threads",
                "pipes-fifos", "timers", "tcp-established"), java.util.List.copyOf(StateSupport.FEATURES.keySet()));
    }
}
