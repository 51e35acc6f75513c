package dev.ferry.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LazyPagesPipesTest {

    @Test
    void enoughIsNoProblem() {
        assertNull(LazyPagesPipes.problem(4194304));
        assertNull(LazyPagesPipes.problem(8 << 20));
    }

    @Test
    void theDefaultIsRefusedWithTheFix() {
        assertEquals("fs.pipe-max-size is 1048576 on this node (expected: >= 4194304 for a --lazy source: CRIU's page"
                + " server sizes its pipes to ~3.2 MiB); run `sysctl -w fs.pipe-max-size=4194304`",
                LazyPagesPipes.problem(1048576));
    }

    @Test
    void anUnreadableValueIsSaidSo() {
        String p = LazyPagesPipes.problem(-1);
        assertTrue(p.startsWith("fs.pipe-max-size is unreadable (/proc/sys/fs/pipe-max-size) on this node"), p);
    }
}
