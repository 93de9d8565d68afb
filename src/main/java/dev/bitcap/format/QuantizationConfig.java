package dev.bitcap.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code quantization_config} object of a bitcap quantized checkpoint's {@code config.json}:
 * <pre>
 * "quantization_config": {
 *   "quant_method": "bitcap",      // always; other values are other tools' checkpoints
 *   "format_version": 1,           // of the packed layout below
 *   "format": "int4-asym",         // a name from `bitcap quantize --list`
 *   "group_size": 128,             // input columns per group; -1 = one group per row (per channel)
 *   "method": "gptq",              // how the codes were chosen: rtn, clip, gptq, awq (informational)
 *   "bits_per_weight": 4.25,       // stored bits per quantized weight, parameters and AWQ input scales included (informational)
 *   "skipped": ["lm_head.weight"], // matrices kept in their original dtype
 *   "calibration": {...}           // text, samples, sequence length, seed (informational; absent for rtn)
 * }
 * </pre>
 * Each quantized matrix {@code NAME} (e.g. {@code model.layers.0.mlp.down_proj.weight}) is stored as
 * {@code NAME.qcodes} (U8 [rows, bytes per row], the {@link dev.bitcap.quant.PackedCodes} layout),
 * {@code NAME.qparams} (F16 [rows, groups × parameters per group]) and, after AWQ, {@code NAME.qinput_scale}
 * (F32 [cols]: activations are multiplied by it before the product). Everything else keeps its usual name.
 *
 * <p>Format {@code binary} (methods billm, stbllm; {@link dev.bitcap.quant.BinaryLayout} documents the bits) has
 * {@code "group_size": 128} (the parameter block) and a {@code "binary"} object: {@code "nm"} (the requested
 * {@code "4:8"}, {@code "5:8"}, {@code "6:8"}, or {@code "dense"}), {@code "regions"} (2 or 3) and, for stbllm with
 * N:M, {@code "kept_per_8_by_layer"} (the N each transformer layer got); all informational. Each matrix is stored
 * as {@code NAME.qsigns} (U8 [rows, P/8], P = cols rounded up to 32), {@code NAME.qstates} (U8 [rows, P·b/8], b = 1
 * or 2 state bits), {@code NAME.qparams} (F16 [rows, blocks × (2R+3)]), {@code NAME.qsalient} (U8 [P/8]) and
 * {@code NAME.qbinary} (I32 [2]: N kept per 8, R regions), which with the shape is all a reader needs.
 */
public record QuantizationConfig(QuantFormat format, int groupSize, String method, double bitsPerWeight, List<String> skipped,
                                 JsonNode calibration, JsonNode binary) {
    public static final String FIELD = "quantization_config";
    public static final String METHOD = "bitcap";
    public static final int VERSION = 1;

    /** @param binary null for a group format; for {@code binary}, its details (then {@code format} is null) */
    public QuantizationConfig {
        skipped = List.copyOf(skipped);
        if ((format == null) == (binary == null)) throw new IllegalArgumentException("either a group format or binary details");
    }

    /** A group format's configuration. */
    public QuantizationConfig(QuantFormat format, int groupSize, String method, double bitsPerWeight, List<String> skipped, JsonNode calibration) {
        this(format, groupSize, method, bitsPerWeight, skipped, calibration, null);
    }

    /** Whether the matrices are in the {@code binary} format ({@code format()} is then null). */
    public boolean isBinary() {
        return binary != null;
    }

    public String formatName() {
        return isBinary() ? dev.bitcap.quant.BinaryLayout.NAME : format.name();
    }

    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("quant_method", METHOD);
        n.put("format_version", VERSION);
        n.put("format", formatName());
        n.put("group_size", groupSize);
        n.put("method", method);
        n.put("bits_per_weight", bitsPerWeight);
        var arr = n.putArray("skipped");
        skipped.forEach(arr::add);
        if (calibration != null) n.set("calibration", calibration);
        if (binary != null) n.set("binary", binary);
        return n;
    }

    /** The checkpoint's quantization, or null when {@code config} has none; other tools' schemes are an error. */
    public static QuantizationConfig read(JsonNode config, String origin) {
        JsonNode n = config.get(FIELD);
        if (n == null || n.isNull()) return null;
        String method = n.path("quant_method").asText("");
        if (!METHOD.equals(method)) {
            throw new BitcapException(origin + ": quantization_config.quant_method '" + method + "' is not supported (bitcap reads its own: 'bitcap')");
        }
        int version = n.path("format_version").asInt(-1);
        if (version != VERSION) throw new BitcapException(origin + ": quantization format_version " + version + " is not supported (this bitcap reads " + VERSION + ")");
        String formatName = n.path("format").asText("");
        boolean binary = dev.bitcap.quant.BinaryLayout.NAME.equals(formatName);
        QuantFormat format = binary ? null : QuantFormats.byName(formatName);
        if (!n.path("group_size").isInt()) throw new BitcapException(origin + ": quantization_config.group_size is missing");
        List<String> skipped = new ArrayList<>();
        n.path("skipped").forEach(s -> skipped.add(s.asText()));
        JsonNode details = binary ? (n.path("binary").isObject() ? n.get("binary") : JsonNodeFactory.instance.objectNode()) : null;
        return new QuantizationConfig(format, n.get("group_size").asInt(), n.path("method").asText("unknown"),
                n.path("bits_per_weight").asDouble(Double.NaN), skipped, n.get("calibration"), details);
    }
}
