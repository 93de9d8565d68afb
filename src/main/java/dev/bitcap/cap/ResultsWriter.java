package dev.bitcap.cap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.bitcap.format.AtomicFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Writes the results as {@code results.json} (run metadata and one object per row) and {@code results.csv} (one line per row). */
public final class ResultsWriter {
    private ResultsWriter() {}

    /** One row as the JSON and CSV have it: the configuration's fields, batch, status and note, then the metrics. */
    static Map<String, Object> row(CapResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        CapConfiguration c = r.configuration();
        m.put("configuration", c.name());
        m.put("format", c.format());
        m.put("method", c.method());
        m.put("group", c.group());
        m.put("nm", c.nm());
        m.put("kv", c.kv());
        m.put("device", c.device());
        m.put("batch", r.batch());
        m.put("status", r.status().name().toLowerCase());
        m.put("note", r.note());
        m.putAll(r.metrics());
        return m;
    }

    public static void writeJson(Path file, Map<String, Object> run, List<CapResult> results) {
        Map<String, Object> json = new LinkedHashMap<>(run);
        List<Object> rows = new ArrayList<>();
        for (CapResult r : results) {
            Map<String, Object> row = row(r);
            row.replaceAll((k, v) -> v instanceof Double d && !Double.isFinite(d) ? null : v); // JSON has no NaN
            rows.add(row);
        }
        json.put("results", rows);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        AtomicFiles.write(file, tmp -> mapper.writeValue(tmp.toFile(), json));
    }

    /** One JSON object per line (e.g. each exact-match task's output per configuration). */
    public static void writeJsonLines(Path file, List<Map<String, Object>> rows) {
        ObjectMapper mapper = new ObjectMapper();
        AtomicFiles.write(file, tmp -> {
            StringBuilder sb = new StringBuilder();
            for (Map<String, Object> row : rows) sb.append(mapper.writeValueAsString(row)).append('\n');
            Files.writeString(tmp, sb);
        });
    }

    public static void writeCsv(Path file, List<CapResult> results) {
        Set<String> columns = new LinkedHashSet<>();
        for (CapResult r : results) columns.addAll(row(r).keySet());
        StringBuilder sb = new StringBuilder(String.join(",", columns)).append('\n');
        for (CapResult r : results) {
            Map<String, Object> row = row(r);
            List<String> cells = new ArrayList<>();
            for (String col : columns) cells.add(cell(row.get(col)));
            sb.append(String.join(",", cells)).append('\n');
        }
        AtomicFiles.write(file, tmp -> Files.writeString(tmp, sb));
    }

    private static String cell(Object v) {
        if (v == null || v instanceof Double d && !Double.isFinite(d)) return "";
        String s = v.toString();
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
