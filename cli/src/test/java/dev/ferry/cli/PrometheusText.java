package dev.ferry.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/** Reads the samples of a Prometheus text scrape: {@code name{labels} value} lines, comments skipped. */
final class PrometheusText {

    private PrometheusText() {
    }

    /** Series (name with its labels as printed) → value. */
    static Map<String, Double> samples(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return samples;
    }
}
