package dev.bitcap.hw;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Reads a JSON object that a user wrote, field by field, so that a misspelt key or a value of the wrong type is an
 * error naming the key's full path (e.g. {@code workload.batch_sizes[1]}) rather than a silent default.
 */
public final class StrictJson {
    private final String source;
    private final String path;
    private final ObjectNode node;

    public StrictJson(String source, String path, JsonNode node) {
        this.source = source;
        this.path = path;
        if (!(node instanceof ObjectNode o)) throw error(path.isEmpty() ? "the top level" : path, "an object");
        this.node = o;
    }

    /** Fails on the first key not in {@code allowed}. */
    public StrictJson allowOnly(Set<String> allowed) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k) && !k.startsWith("_")) {
                throw new BitcapException(source + ": unknown key '" + key(k) + "' (valid here: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
        return this;
    }

    public boolean has(String k) {
        return node.has(k) && !node.get(k).isNull();
    }

    public String string(String k, String fallback) {
        if (!has(k)) return fallback;
        JsonNode v = node.get(k);
        if (!v.isTextual()) throw error(key(k), "a string");
        return v.textValue();
    }

    public Double number(String k, Double fallback) {
        if (!has(k)) return fallback;
        JsonNode v = node.get(k);
        if (!v.isNumber()) throw error(key(k), "a number");
        return v.doubleValue();
    }

    public Integer integer(String k, Integer fallback) {
        if (!has(k)) return fallback;
        JsonNode v = node.get(k);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw error(key(k), "an integer");
        return v.intValue();
    }

    public Boolean bool(String k, Boolean fallback) {
        if (!has(k)) return fallback;
        JsonNode v = node.get(k);
        if (!v.isBoolean()) throw error(key(k), "true or false");
        return v.booleanValue();
    }

    public StrictJson object(String k) {
        return has(k) ? new StrictJson(source, key(k), node.get(k)) : null;
    }

    public List<Integer> integers(String k, List<Integer> fallback) {
        if (!has(k)) return fallback;
        List<Integer> out = new ArrayList<>();
        JsonNode arr = array(k);
        for (int i = 0; i < arr.size(); i++) {
            JsonNode v = arr.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw error(key(k) + "[" + i + "]", "an integer");
            out.add(v.intValue());
        }
        return out;
    }

    public List<String> strings(String k, List<String> fallback) {
        if (!has(k)) return fallback;
        List<String> out = new ArrayList<>();
        JsonNode arr = array(k);
        for (int i = 0; i < arr.size(); i++) {
            if (!arr.get(i).isTextual()) throw error(key(k) + "[" + i + "]", "a string");
            out.add(arr.get(i).textValue());
        }
        return out;
    }

    public List<StrictJson> objects(String k) {
        List<StrictJson> out = new ArrayList<>();
        if (!has(k)) return out;
        JsonNode arr = array(k);
        for (int i = 0; i < arr.size(); i++) out.add(new StrictJson(source, key(k) + "[" + i + "]", arr.get(i)));
        return out;
    }

    /** The keys present, in file order. */
    public List<String> keys() {
        List<String> out = new ArrayList<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }

    public String path() {
        return path;
    }

    public String source() {
        return source;
    }

    private JsonNode array(String k) {
        JsonNode v = node.get(k);
        if (!v.isArray()) throw error(key(k), "an array");
        return v;
    }

    public String key(String k) {
        return path.isEmpty() ? k : path + "." + k;
    }

    private BitcapException error(String key, String expected) {
        return new BitcapException(source + ": '" + key + "' must be " + expected);
    }
}
