package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import dev.bitcap.format.SafetensorsFile;
import dev.bitcap.format.SafetensorsWriter;
import dev.bitcap.format.TensorSpec;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.RopeStyle;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link SeerGate} as a {@code .safetensors} file: per layer {@code layers.L.q} [heads, headDim, gateDim] and
 * {@code layers.L.k} [kvHeads, 3·headDim, gateDim] in fp32, {@code rope.inv_freq} [gateDim/2], and metadata
 * naming the model (name and fingerprint), the block size and the shape, which loading checks.
 */
public final class SeerGateFile {
    static final String KIND = "bitcap.seer_gate";

    private SeerGateFile() {}

    public static void write(Path file, SeerGate gate) {
        SeerGate.Shape s = gate.shape();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", KIND);
        meta.put("format_version", "1");
        meta.put("model_name", gate.modelName());
        meta.put("model_fingerprint", gate.modelFingerprint());
        meta.put("block_size", String.valueOf(s.block()));
        meta.put("gate_dim", String.valueOf(s.gateDim()));
        meta.put("layers", String.valueOf(s.layers()));
        meta.put("heads", String.valueOf(s.heads()));
        meta.put("kv_heads", String.valueOf(s.kvHeads()));
        meta.put("head_dim", String.valueOf(s.headDim()));
        meta.put("rope_style", gate.ropeStyle().name());
        meta.put("pooling", "q:avg k:max,min,avg");
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, double[]> values = new LinkedHashMap<>();
        for (int l = 0; l < s.layers(); l++) {
            specs.add(new TensorSpec("layers." + l + ".q", DType.F32, new long[] {s.heads(), s.headDim(), s.gateDim()}));
            values.put("layers." + l + ".q", gate.queryWeights(l));
            specs.add(new TensorSpec("layers." + l + ".k", DType.F32, new long[] {s.kvHeads(), 3L * s.headDim(), s.gateDim()}));
            values.put("layers." + l + ".k", gate.keyWeights(l));
        }
        specs.add(new TensorSpec("rope.inv_freq", DType.F32, new long[] {s.gateDim() / 2}));
        values.put("rope.inv_freq", gate.invFreq());
        SafetensorsWriter.write(file, specs, meta, (spec, target) -> {
            double[] v = values.get(spec.name());
            for (int i = 0; i < v.length; i++) target.set(Tensor.F32_LE, 4L * i, (float) v[i]);
        });
    }

    public static SeerGate read(Path file) {
        if (!Files.isRegularFile(file)) throw new BitcapException("gate file " + file + " does not exist");
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, String> m = st.metadata();
            if (!KIND.equals(m.get("format"))) throw new BitcapException("gate file " + file + " is not a bitcap SeerAttention gate (no format=" + KIND + " metadata)");
            SeerGate.Shape s = new SeerGate.Shape(intOf(m, "layers", file), intOf(m, "heads", file), intOf(m, "kv_heads", file),
                    intOf(m, "head_dim", file), intOf(m, "gate_dim", file), intOf(m, "block_size", file));
            double[][] wq = new double[s.layers()][], wk = new double[s.layers()][];
            for (int l = 0; l < s.layers(); l++) {
                wq[l] = floats(st, "layers." + l + ".q", SeerGate.qWeights(s), file);
                wk[l] = floats(st, "layers." + l + ".k", SeerGate.kWeights(s), file);
            }
            double[] invFreq = floats(st, "rope.inv_freq", s.gateDim() / 2, file);
            RopeStyle style;
            try {
                style = RopeStyle.valueOf(m.getOrDefault("rope_style", ""));
            } catch (IllegalArgumentException e) {
                throw new BitcapException("gate file " + file + " has an unknown rope_style '" + m.get("rope_style") + "'");
            }
            return new SeerGate(s, invFreq, style, m.getOrDefault("model_fingerprint", "?"), m.getOrDefault("model_name", "?"), wq, wk);
        }
    }

    private static int intOf(Map<String, String> m, String key, Path file) {
        try {
            return Integer.parseInt(m.get(key));
        } catch (NumberFormatException e) {
            throw new BitcapException("gate file " + file + " lacks a valid '" + key + "' in its metadata");
        }
    }

    private static double[] floats(SafetensorsFile st, String name, int expected, Path file) {
        if (!st.contains(name)) throw new BitcapException("gate file " + file + " has no tensor " + name);
        Tensor t = st.tensor(name);
        if (t.dtype() != DType.F32 || t.elementCount() != expected) {
            throw new BitcapException("gate file " + file + ": tensor " + name + " should be " + expected + " F32 values, is " + t.elementCount() + " " + t.dtype());
        }
        MemorySegment data = t.data();
        double[] out = new double[expected];
        for (int i = 0; i < expected; i++) out[i] = data.get(Tensor.F32_LE, 4L * i);
        return out;
    }
}
