package dev.bitcap.model.synth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.format.AtomicFiles;
import dev.bitcap.format.GgufWriter;
import dev.bitcap.format.SafetensorsWriter;
import dev.bitcap.format.TensorSpec;
import dev.bitcap.model.Family;
import dev.bitcap.model.GgufWeightLayout;
import dev.bitcap.model.HfWeightLayout;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.TensorInventory;
import dev.bitcap.model.WeightRole;
import dev.bitcap.tensor.BlockQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Halfs;
import dev.bitcap.tensor.Parallel;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes a deterministic random-weight checkpoint for a config: a Hugging Face folder (config.json,
 * model.safetensors, tokenizer.json) or a GGUF file holding the same model (Q/K rows permuted for GGUF's
 * adjacent-pair RoPE, experts stacked), in F32, F16, BF16 or, for GGUF, Q8_0 and Q4_0.
 */
public final class SyntheticCheckpointWriter {
    private static final int SLAB = 1 << 20; // elements generated per task: a multiple of the chunk and of 32

    private SyntheticCheckpointWriter() {}

    /** @param progress receives the number of elements written so far */
    public static void writeHf(ObjectNode configJson, ModelConfig config, DType dtype, long seed, Path outDir, boolean replace,
                               LongConsumer progress) {
        if (!dtype.isFloat()) throw new BitcapException("--dtype " + dtype.name().toLowerCase() + " is only written as GGUF (--format gguf)");
        List<TensorInventory.Entry> entries = TensorInventory.of(config);
        HfWeightLayout names = new HfWeightLayout(config.family());
        Map<String, TensorInventory.Entry> byName = new LinkedHashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        for (TensorInventory.Entry e : entries) {
            String name = names.describe(e.role(), e.layer(), e.expert());
            byName.put(name, e);
            specs.add(new TensorSpec(name, dtype, e.shape()));
        }
        ObjectNode cfg = configJson.deepCopy();
        cfg.put("torch_dtype", dtype == DType.F32 ? "float32" : dtype == DType.F16 ? "float16" : "bfloat16");
        cfg.put("bitcap_synthetic_seed", seed);
        long[] done = {0};
        AtomicFiles.writeDirectory(outDir, replace, dir -> {
            Files.writeString(dir.resolve("config.json"), cfg.toPrettyString());
            Files.writeString(dir.resolve("tokenizer.json"), SyntheticTokenizer.json(config.vocabSize()));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, Map.of("format", "pt", "bitcap", "synthetic"),
                    (spec, target) -> {
                        TensorInventory.Entry e = byName.get(spec.name());
                        encodeGenerated(e, SyntheticValues.seedOf(e, seed), dtype, target, 0, Tensor.elementCount(e.shape()), false, 0);
                        done[0] += Tensor.elementCount(e.shape());
                        progress.accept(done[0]);
                    });
        });
    }

    /** Writes a GGUF file; matrices in {@code dtype} (F32, F16, BF16, Q8_0, Q4_0), vectors in F32 as llama.cpp keeps them. */
    public static void writeGguf(ModelConfig config, DType dtype, long seed, Path outFile, LongConsumer progress) {
        if (config.family() == Family.QWEN2 || config.family() == Family.QWEN3) {
            throw new BitcapException("GGUF export of " + config.family().hfName() + " is not supported (supported: llama, mixtral, qwen2_moe, qwen3_moe)");
        }
        String arch = switch (config.family()) {
            case LLAMA, MISTRAL, MIXTRAL -> "llama";
            case QWEN2_MOE -> "qwen2moe";
            case QWEN3_MOE -> "qwen3moe";
            default -> throw new IllegalStateException();
        };
        boolean permuteQk = arch.equals("llama");
        GgufWeightLayout names = new GgufWeightLayout();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        long done = 0;
        try (Arena arena = Arena.ofShared()) {
            Map<String, List<TensorInventory.Entry>> stacks = new LinkedHashMap<>();
            for (TensorInventory.Entry e : TensorInventory.of(config)) {
                String name = names.describe(e.role(), e.layer(), e.expert()).replaceAll("\\[\\d+]$", "");
                stacks.computeIfAbsent(name, k -> new ArrayList<>()).add(e);
            }
            for (var s : stacks.entrySet()) {
                List<TensorInventory.Entry> parts = s.getValue();
                TensorInventory.Entry first = parts.get(0);
                DType t = first.isMatrix() ? dtype : DType.F32;
                long per = Tensor.elementCount(first.shape());
                long[] shape = parts.size() == 1 ? first.shape() : new long[] {parts.size(), first.shape()[0], first.shape()[1]};
                Tensor out = Tensor.allocate(arena, t, shape);
                for (int i = 0; i < parts.size(); i++) {
                    TensorInventory.Entry e = parts.get(i);
                    boolean permute = permuteQk && (e.role() == WeightRole.Q || e.role() == WeightRole.K);
                    encodeGenerated(e, SyntheticValues.seedOf(e, seed), t, out.data(), t.byteSize(per) * i, per,
                            permute, config.headDim());
                    done += per;
                    progress.accept(done);
                }
                tensors.put(s.getKey(), out);
            }
            if (config.ropeScaling().type() != dev.bitcap.model.RopeScaling.Type.NONE) {
                float[] factors = config.ropeScaling().asFactors(config.headDim(), config.ropeTheta());
                tensors.put(dev.bitcap.model.GgufConfigParser.ROPE_FACTORS, Tensor.ofFloats(arena, factors, factors.length));
            }
            GgufWriter.write(outFile, ggufMetadata(config, arch), tensors);
        }
    }

    private static Map<String, Object> ggufMetadata(ModelConfig c, String arch) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("general.architecture", arch);
        m.put("general.name", "bitcap synthetic " + c.family().hfName());
        m.put("general.alignment", 32);
        m.put(arch + ".context_length", c.maxContext());
        m.put(arch + ".embedding_length", c.hiddenSize());
        m.put(arch + ".block_count", c.layers());
        m.put(arch + ".feed_forward_length", c.family() == Family.MIXTRAL ? c.moeIntermediate() : c.intermediateSize());
        m.put(arch + ".attention.head_count", c.heads());
        m.put(arch + ".attention.head_count_kv", c.kvHeads());
        m.put(arch + ".attention.key_length", c.headDim());
        m.put(arch + ".attention.value_length", c.headDim());
        m.put(arch + ".attention.layer_norm_rms_epsilon", c.rmsEps());
        m.put(arch + ".rope.freq_base", (float) c.ropeTheta());
        m.put(arch + ".vocab_size", c.vocabSize());
        if (c.isMoe()) {
            m.put(arch + ".expert_count", c.experts());
            m.put(arch + ".expert_used_count", c.expertsPerToken());
            if (c.family() != Family.MIXTRAL) m.put(arch + ".expert_feed_forward_length", c.moeIntermediate());
            if (c.hasSharedExpert()) m.put(arch + ".expert_shared_feed_forward_length", c.sharedExpertIntermediate());
        }
        // the synthetic byte-level vocabulary, as GGUF's gpt2-style tokenizer keys
        SyntheticTokenizer.Vocabulary vocab = SyntheticTokenizer.vocabulary(c.vocabSize());
        List<Object> types = new ArrayList<>(c.vocabSize());
        for (int i = 0; i < c.vocabSize(); i++) types.add(i == 256 || i == 257 ? 3 : 1);
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", "default");
        m.put("tokenizer.ggml.tokens", new ArrayList<Object>(vocab.pieces()));
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.merges", new ArrayList<Object>(vocab.merges()));
        m.put("tokenizer.ggml.bos_token_id", 256);
        m.put("tokenizer.ggml.eos_token_id", 257);
        m.put("tokenizer.ggml.add_bos_token", true);
        return m;
    }

    /**
     * Generates a tensor's values slab by slab in parallel and encodes them into {@code dst}. With
     * {@code permuteQk}, rows within each head are reordered from rotate-half to adjacent-pair order.
     */
    private static void encodeGenerated(TensorInventory.Entry e, long seed, DType dtype, MemorySegment dst, long dstByteOff,
                                        long count, boolean permuteQk, int headDim) {
        long rowLen = e.shape()[e.shape().length - 1];
        if (permuteQk) {
            int rows = (int) e.shape()[0];
            float[] row = new float[(int) rowLen];
            for (int r = 0; r < rows; r++) {
                int head = r / headDim, i = r % headDim, half = headDim / 2;
                int src = head * headDim + (i % 2 == 0 ? i / 2 : half + i / 2);
                SyntheticValues.fill(e, seed, (long) src * rowLen, (int) rowLen, row, 0);
                encode(row, (int) rowLen, dtype, dst, dstByteOff + dtype.byteSize((long) r * rowLen));
            }
            return;
        }
        int slabs = (int) ((count + SLAB - 1) / SLAB);
        Parallel.forRange(slabs, 1, (a, b) -> {
            float[] buf = new float[SLAB];
            for (int s = a; s < b; s++) {
                long start = (long) s * SLAB;
                int n = (int) Math.min(SLAB, count - start);
                SyntheticValues.fill(e, seed, start, n, buf, 0);
                encode(buf, n, dtype, dst, dstByteOff + dtype.byteSize(start));
            }
        });
    }

    private static void encode(float[] v, int n, DType dtype, MemorySegment dst, long off) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(v, 0, dst, Tensor.F32_LE, off, n);
            case F16 -> { for (int i = 0; i < n; i++) dst.set(Tensor.I16_LE, off + 2L * i, Float.floatToFloat16(v[i])); }
            case BF16 -> { for (int i = 0; i < n; i++) dst.set(Tensor.I16_LE, off + 2L * i, Halfs.f32ToBf16(v[i])); }
            case Q8_0, Q4_0 -> BlockQuantizer.quantizeInto(dtype, v, 0, n, dst, off);
            default -> throw new BitcapException("synthetic weights cannot be written as " + dtype);
        }
    }
}
