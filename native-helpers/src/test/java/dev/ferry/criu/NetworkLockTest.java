package dev.ferry.criu;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NetworkLockTest {

    /** Lines of a real CRIU 4.2.1 dump.log (--tcp-established --network-lock iptables). */
    private static final List<String> IPTABLES_LOG = List.of(
            "(00.000000) CRIU run id = a7e1ffe1-b056-4b75-b76a-8b80f96dae34",
            "(00.036990) net: Lock network",
            "(00.047096) \tRunning iptables [iptables -w -t filter -I INPUT --protocol tcp -m mark ! --mark 0xC114"
                    + " --source 127.0.0.1 --sport 53892 --destination 127.0.0.1 --dport 7777 -j DROP]",
            "(00.050938) Locked 127.0.0.1:7777 - 127.0.0.1:53892 connection",
            "(00.050955) \tRunning iptables [iptables -w -t filter -I OUTPUT --protocol tcp -m mark ! --mark 0xC114"
                    + " --source 127.0.0.1 --sport 7777 --destination 127.0.0.1 --dport 53892 -j DROP]");

    @Test
    void iptablesLockRulesBecomeDeletions() {
        List<List<String>> unlocks = NetworkLock.iptablesUnlocks(IPTABLES_LOG);
        assertEquals(2, unlocks.size());
        assertEquals(List.of("iptables", "-w", "-t", "filter", "-D", "INPUT", "--protocol", "tcp", "-m", "mark", "!",
                "--mark", "0xC114", "--source", "127.0.0.1", "--sport", "53892", "--destination", "127.0.0.1",
                "--dport", "7777", "-j", "DROP"), unlocks.get(0));
        assertEquals("OUTPUT", unlocks.get(1).get(5));
    }

    @Test
    void nftablesTableIsFoundByTheRunIdPrefix() {
        String runId = NetworkLock.runId(IPTABLES_LOG).orElseThrow();
        assertEquals("a7e1ffe1-b056-4b75-b76a-8b80f96dae34", runId);
        assertTrue(NetworkLock.isTableOf("CRIU-a7e1ffe1-b056-4b75-b7", runId));
        assertFalse(NetworkLock.isTableOf("CRIU-80a0c7d0-85b2-4a49-b4", runId), "another dump's lock stays");
        assertFalse(NetworkLock.isTableOf("CRIU-", runId));
    }
}
