package dev.ferry.cli.lab;

import java.util.LinkedHashMap;
import java.util.Map;

/** Reads the samples of a Prometheus text scrape: {@code name{labels} value} lines, comments skipped. */
public final class PrometheusText {

    private PrometheusText() {
    }

    /** Series (name with its labels as Micrometer prints them, sorted by label name) → value. */
    public static Map<String, Double> samples(String text) {
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

    /** The sum of every series of {@code name} (any labels), e.g. the images of all kinds. */
    public static double sum(Map<String, Double> samples, String name) {
        return samples.entrySet().stream().filter(e -> e.getKey().equals(name) || e.getKey().startsWith(name + "{"))
                .mapToDouble(Map.Entry::getValue).sum();
    }
}
