package dev.bitcap.hw;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The devices bitcap knows: the catalog shipped as a resource ({@code catalog.json}), optionally overlaid by a user's
 * file in the same format — an entry with a known id replaces the fields it gives, a new id adds a device.
 * Prices and power given per core (the local CPU) are multiplied by the cores this JVM sees.
 */
public final class HardwareCatalog {
    /** The catalog entry whose figures come from this machine's probes. */
    public static final String LOCAL_CPU = "cpu-local";

    private static final Set<String> TOP_KEYS = Set.of("devices");
    private static final Set<String> DEVICE_KEYS = Set.of("id", "name", "kind", "bandwidth_gb_s", "peak_tflops", "power_w", "price_usd",
            "power_w_per_core", "price_usd_per_core", "source");
    private static final Set<String> DTYPES = Set.of("fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4", "fp4");

    private final Map<String, DeviceSpec> devices;

    private HardwareCatalog(Map<String, DeviceSpec> devices) {
        this.devices = devices;
    }

    /** The shipped catalog, overlaid by {@code userFile} when it is not null. */
    public static HardwareCatalog load(Path userFile) {
        Map<String, DeviceSpec> devices = new LinkedHashMap<>();
        try (InputStream in = HardwareCatalog.class.getResourceAsStream("catalog.json")) {
            read(new ObjectMapper().readTree(in), "built-in hardware catalog", devices);
        } catch (IOException e) {
            throw new IllegalStateException("hardware catalog resource unreadable", e);
        }
        if (userFile != null) {
            JsonNode tree;
            try {
                tree = new ObjectMapper().readTree(Files.readString(userFile));
            } catch (IOException e) {
                throw new BitcapException("hardware catalog " + userFile + ": cannot read (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            read(tree, "hardware catalog " + userFile, devices);
        }
        return new HardwareCatalog(devices);
    }

    private static void read(JsonNode tree, String source, Map<String, DeviceSpec> devices) {
        StrictJson top = new StrictJson(source, "", tree).allowOnly(TOP_KEYS);
        for (StrictJson d : top.objects("devices")) {
            d.allowOnly(DEVICE_KEYS);
            String id = d.string("id", null);
            if (id == null) throw new BitcapException(source + ": '" + d.path() + "' has no 'id'");
            DeviceSpec old = devices.get(id);
            Map<String, Double> peaks = new LinkedHashMap<>(old == null ? Map.of() : old.peakTflops());
            StrictJson p = d.object("peak_tflops");
            if (p != null) {
                p.allowOnly(DTYPES);
                for (String k : p.keys()) peaks.put(k, p.number(k, null));
            }
            int cores = Runtime.getRuntime().availableProcessors();
            Double power = d.number("power_w", old == null ? null : old.powerW());
            Double price = d.number("price_usd", old == null ? null : old.priceUsd());
            if (d.has("power_w_per_core")) power = d.number("power_w_per_core", null) * cores;
            if (d.has("price_usd_per_core")) price = d.number("price_usd_per_core", null) * cores;
            String kind = d.string("kind", old == null ? "gpu" : old.kind());
            if (!kind.equals("gpu") && !kind.equals("cpu")) throw new BitcapException(source + ": '" + d.key("kind") + "' must be gpu or cpu");
            devices.put(id, new DeviceSpec(id, d.string("name", old == null ? id : old.name()), kind,
                    d.number("bandwidth_gb_s", old == null ? null : old.bandwidthGBs()), peaks, power, price,
                    d.string("source", old == null ? "" : old.source())));
        }
    }

    public DeviceSpec get(String id) {
        DeviceSpec d = devices.get(id);
        if (d == null) throw new BitcapException("unknown hardware id '" + id + "' (catalog: " + String.join(", ", devices.keySet()) + ")");
        return d;
    }

    public Collection<DeviceSpec> devices() {
        return devices.values();
    }

    /** The same catalog with one entry replaced (e.g. the local CPU with its measured figures). */
    public HardwareCatalog with(DeviceSpec spec) {
        Map<String, DeviceSpec> copy = new LinkedHashMap<>(devices);
        copy.put(spec.id(), spec);
        return new HardwareCatalog(copy);
    }
}
