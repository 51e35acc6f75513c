package dev.ferry.protocol.metrics;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/** docs/metrics.md mirrors {@link FerryMeters}: every meter is there, by its name and its Prometheus name. */
class MetricsDocTest {

    @Test
    void docsListEveryMeter() throws Exception {
        Path doc = Path.of("..", "docs", "metrics.md");
        assertTrue(Files.isRegularFile(doc), "missing " + doc.toAbsolutePath());
        String text = Files.readString(doc);
        for (FerryMeters.Meter m : FerryMeters.ALL) {
            assertTrue(text.contains("`" + m.name() + "`"), "docs/metrics.md does not list " + m.name());
            assertTrue(text.contains(prometheusName(m)), "docs/metrics.md does not give " + prometheusName(m));
        }
    }

    /** What Micrometer's Prometheus naming makes of a meter (the base name of its series). */
    static String prometheusName(FerryMeters.Meter m) {
        String base = m.name().replace('.', '_');
        if (m.unit() != null && !base.endsWith("_" + m.unit())) {
            base += "_" + m.unit();
        }
        return switch (m.type()) {
            case "counter" -> base + "_total";
            default -> base;
        };
    }
}
