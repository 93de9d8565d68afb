package dev.bitcap.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.format.AtomicFiles;
import dev.bitcap.format.PackedMatrixIo;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.format.SafetensorsWriter;
import dev.bitcap.format.TensorSpec;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a model whose matrices may be quantized as a Hugging Face–style folder: {@code config.json} with its
 * {@code quantization_config}, {@code model.safetensors} with packed matrices under the names
 * {@link QuantizationConfig} documents and every other tensor as usual, and the tokenizer files. The folder
 * appears whole or not at all.
 */
public final class QuantizedCheckpointWriter {
    /** A file to copy into the folder under another name (tokenizers). */
    public record ExtraFile(Path source, String name) {}

    private QuantizedCheckpointWriter() {}

    /**
     * @param baseConfig the config.json to extend (the source folder's own, or {@link HfConfigWriter#toJson})
     * @param extraFiles tokenizer files to copy in
     * @param tokenizerWriter writes further tokenizer files into the folder (may be null)
     */
    public static void write(ModelConfig config, Weights.Model weights, ObjectNode baseConfig, QuantizationConfig quantization,
                             List<ExtraFile> extraFiles, AtomicFiles.IoWriter tokenizerWriter, Path outDir, boolean replace) {
        boolean tied = weights.lmHead() == weights.embedding();
        ObjectNode cfg = baseConfig.deepCopy();
        cfg.put("tie_word_embeddings", tied);
        cfg.set(QuantizationConfig.FIELD, quantization.toJson());
        HfWeightLayout names = new HfWeightLayout(config.family());
        ModelConfig layoutConfig = tied == config.tiedEmbeddings() ? config : withTied(config, tied);

        List<TensorSpec> specs = new ArrayList<>();
        Map<String, Object> sourceOf = new HashMap<>();
        for (TensorInventory.Entry e : TensorInventory.of(layoutConfig)) {
            String name = names.describe(e.role(), e.layer(), e.expert());
            Object value = valueOf(weights, e);
            if (value instanceof QuantizedTensor q) {
                for (TensorSpec s : PackedMatrixIo.specs(name, q)) {
                    specs.add(s);
                    sourceOf.put(s.name(), q);
                }
            } else if (value instanceof BinaryTensor b) {
                for (TensorSpec s : PackedMatrixIo.specs(name, b)) {
                    specs.add(s);
                    sourceOf.put(s.name(), b);
                }
            } else if (value instanceof Tensor t) {
                DType stored = t.dtype().isBlockQuantized() ? DType.F16 : t.dtype();
                specs.add(new TensorSpec(name, stored, e.shape()));
                sourceOf.put(name, t);
            } else if (value instanceof float[] v) {
                specs.add(new TensorSpec(name, DType.F32, e.shape()));
                sourceOf.put(name, v);
            } else {
                throw new IllegalStateException(name + " has no value to write (" + value + ")");
            }
        }
        AtomicFiles.writeDirectory(outDir, replace, dir -> {
            Files.writeString(dir.resolve("config.json"), cfg.toPrettyString());
            for (ExtraFile f : extraFiles) Files.copy(f.source(), dir.resolve(f.name()));
            if (tokenizerWriter != null) tokenizerWriter.write(dir);
            SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, Map.of("format", "pt", "bitcap", "quantized"),
                    (spec, target) -> fill(spec, sourceOf.get(spec.name()), target));
        });
    }

    private static void fill(TensorSpec spec, Object value, MemorySegment target) {
        switch (value) {
            case QuantizedTensor q -> PackedMatrixIo.fill(spec, q, target);
            case BinaryTensor b -> PackedMatrixIo.fill(spec, b, target);
            case float[] v -> MemorySegment.copy(v, 0, target, Tensor.F32_LE, 0, v.length);
            case Tensor t when t.dtype() == spec.dtype() -> target.copyFrom(t.data());
            case Tensor t -> {
                // block-quantized GGUF matrices kept as they are become fp16 (safetensors has no Q8_0/Q4_0)
                for (long i = 0, n = t.elementCount(); i < n; i++) target.set(Tensor.I16_LE, 2 * i, Float.floatToFloat16(t.getFloat(i)));
            }
            default -> throw new IllegalStateException("cannot write " + spec.name());
        }
    }

    private static Object valueOf(Weights.Model w, TensorInventory.Entry e) {
        int l = e.layer();
        Weights.Layer layer = l >= 0 ? w.layers()[l] : null;
        return switch (e.role()) {
            case EMBED -> w.embedding();
            case LM_HEAD -> w.lmHead();
            case FINAL_NORM -> w.finalNorm();
            case ATTN_NORM -> layer.attnNorm();
            case MLP_NORM -> layer.mlpNorm();
            case Q -> layer.attention().q();
            case K -> layer.attention().k();
            case V -> layer.attention().v();
            case O -> layer.attention().o();
            case Q_BIAS -> layer.attention().qBias();
            case K_BIAS -> layer.attention().kBias();
            case V_BIAS -> layer.attention().vBias();
            case Q_NORM -> layer.attention().qNorm();
            case K_NORM -> layer.attention().kNorm();
            case GATE -> layer.mlp().gate();
            case UP -> layer.mlp().up();
            case DOWN -> layer.mlp().down();
            case ROUTER -> layer.moe().router();
            case EXPERT_GATE -> layer.moe().experts()[e.expert()].gate();
            case EXPERT_UP -> layer.moe().experts()[e.expert()].up();
            case EXPERT_DOWN -> layer.moe().experts()[e.expert()].down();
            case SHARED_GATE -> layer.moe().shared().gate();
            case SHARED_UP -> layer.moe().shared().up();
            case SHARED_DOWN -> layer.moe().shared().down();
            case SHARED_EXPERT_GATE -> layer.moe().sharedGate();
        };
    }

    private static ModelConfig withTied(ModelConfig c, boolean tied) {
        return new ModelConfig(c.family(), c.hiddenSize(), c.intermediateSize(), c.layers(), c.heads(), c.kvHeads(), c.headDim(),
                c.vocabSize(), c.maxContext(), c.rmsEps(), c.ropeTheta(), c.ropeScaling(), c.ropeStyle(), tied, c.attentionBias(),
                c.experts(), c.expertsPerToken(), c.moeIntermediate(), c.sharedExpertIntermediate(), c.normTopK(), c.sparseStep(),
                c.denseLayers(), c.bosId(), c.eosId());
    }
}
