package dev.bitcap.cap;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One row of the results: a configuration at one batch size, whether it ran, and its figures by name (seconds,
 * tokens/s, bytes, fractions, dollars; NaN or absent where not measurable).
 */
public record CapResult(CapConfiguration configuration, int batch, Status status, String note, Map<String, Object> metrics) {
    public enum Status { OK, FAILED, SKIPPED }

    public CapResult {
        metrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
    }

    public double number(String key) {
        return metrics.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
