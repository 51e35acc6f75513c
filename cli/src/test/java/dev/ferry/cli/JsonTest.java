package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.protocol.control.ProcessInfo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void writesAndReadsBackEscapesNumbersAndNesting() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "a \"quoted\"\\ line\nand\ttab \u0001");
        m.put("n", 12L);
        m.put("x", 1.5);
        m.put("ok", true);
        m.put("none", null);
        m.put("list", List.of(1L, "two", List.of()));
        m.put("empty", Map.of());
        String json = Json.write(m);
        assertEquals("{\"text\":\"a \\\"quoted\\\"\\\\ line\\nand\\ttab \\u0001\",\"n\":12,\"x\":1.5,\"ok\":true,"
                + "\"none\":null,\"list\":[1,\"two\",[]],\"empty\":{}}", json);
        assertEquals(m, Json.parse(json));
    }

    @Test
    void protobufMessagesUseProtoFieldNamesAndUnsignedValues() {
        ProcessInfo p = ProcessInfo.newBuilder().setPid(-1).setComm("sh").addThreads(7).build();
        Map<String, Object> f = Json.fields(p);
        assertEquals(4294967295L, f.get("pid"));
        assertEquals(0L, f.get("ppid"));
        assertEquals("sh", f.get("comm"));
        assertEquals(List.of(7L), f.get("threads"));
        assertEquals(0L, f.get("memory_bytes"));
    }

    @Test
    void badJsonNamesTheOffset() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1,}"));
        assertEquals("JSON at offset 7: '}' (expected: a key)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1 2]"));
    }
}
