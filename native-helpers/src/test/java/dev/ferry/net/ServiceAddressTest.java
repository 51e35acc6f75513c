package dev.ferry.net;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServiceAddressTest {

    @Test
    void parsesAddressPrefixAndDevice() {
        ServiceAddress a = ServiceAddress.parse("10.0.0.100/24@eth0");
        assertEquals("10.0.0.100", a.ip());
        assertEquals(24, a.prefix());
        assertEquals("eth0", a.device());
        assertEquals("10.0.0.100/24", a.cidr());
        ServiceAddress b = ServiceAddress.parse("10.0.0.100");
        assertEquals(32, b.prefix());
        assertNull(b.device());
    }

    @Test
    void refusesWhatIsNotAnIpv4AddressWithAPrefix() {
        for (String bad : new String[]{"", "host.example", "10.0.0/24", "10.0.0.300/32", "10.0.0.1/33", "10.0.0.1/0",
                "fe80::1/64", "10.0.0.1/24@", "10.0.0.1/24@eth0;reboot"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServiceAddress.parse(bad), bad);
            assertTrue(e.getMessage().contains("expected"), e.getMessage());
        }
    }
}
