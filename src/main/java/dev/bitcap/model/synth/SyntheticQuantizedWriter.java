package dev.bitcap.model.synth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.format.AtomicFiles;
import dev.bitcap.format.PackedMatrixIo;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.format.SafetensorsWriter;
import dev.bitcap.format.TensorSpec;
import dev.bitcap.model.HfWeightLayout;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.TensorInventory;
import dev.bitcap.model.WeightRole;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.PackedCodes;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Halfs;
import dev.bitcap.tensor.Parallel;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Writes a synthetic checkpoint straight in a packed group format, as {@code bitcap quantize --method rtn} would
 * write it from the synthetic checkpoint of the same seed in {@code sourceDtype}: the same folder (config.json with
 * its {@code quantization_config}, model.safetensors, tokenizer.json), the same tensor names, dtypes and bytes.
 * Each matrix is generated and quantized band of rows by band of rows straight into the mapped output file, so
 * the full-precision model never exists (Mixtral-8x7B in INT4 is ~25 GB; its bf16 form ~93 GB).
 */
public final class SyntheticQuantizedWriter {
    /** Elements generated and quantized per task. */
    private static final long BAND_ELEMENTS = 1 << 20;

    private SyntheticQuantizedWriter() {}

    /**
     * @param sourceDtype the dtype the values are rounded to first (what the source checkpoint would hold) and the
     *                    dtype of the matrices that are kept (embedding, routers, skipped ones)
     * @param groupSize   input columns per group, or -1 for per channel
     * @param skip        matrices whose name contains one of these are kept in {@code sourceDtype} (routers always are)
     */
    public static void write(ObjectNode configJson, ModelConfig config, DType sourceDtype, QuantFormat format, int groupSize,
                             List<String> skip, long seed, Path outDir, boolean replace, LongConsumer progress) {
        if (!sourceDtype.isFloat()) throw new BitcapException("--dtype " + sourceDtype.name().toLowerCase() + " cannot be the source of --quant (use f32, f16 or bf16)");
        if (groupSize != -1 && (groupSize <= 0 || groupSize % 32 != 0)) {
            throw new BitcapException("--group " + groupSize + " is not valid: use a positive multiple of 32, or -1 for per channel");
        }
        HfWeightLayout names = new HfWeightLayout(config.family());
        List<TensorInventory.Entry> entries = new ArrayList<>(TensorInventory.of(config));
        boolean headSkipped = skip.stream().anyMatch(names.describe(WeightRole.LM_HEAD, -1, -1)::contains);
        // A tied head that is quantized becomes its own matrix holding the embedding's values, as quantize makes it.
        boolean tied = config.tiedEmbeddings() && headSkipped;
        TensorInventory.Entry embed = entries.get(0);
        if (config.tiedEmbeddings() && !tied) entries.add(new TensorInventory.Entry(WeightRole.LM_HEAD, -1, -1, embed.shape()));

        List<TensorSpec> specs = new ArrayList<>();
        Map<String, Part> parts = new java.util.HashMap<>();
        List<String> skipped = new ArrayList<>();
        long quantizedWeights = 0;
        double bits = 0;
        for (TensorInventory.Entry e : entries) {
            String name = names.describe(e.role(), e.layer(), e.expert());
            // values of the tied head come from the embedding's generator
            TensorInventory.Entry source = e.role() == WeightRole.LM_HEAD && config.tiedEmbeddings() ? embed : e;
            boolean matrix = e.isMatrix() && e.role() != WeightRole.EMBED;
            boolean keep = matrix && (e.role() == WeightRole.ROUTER || skip.stream().anyMatch(name::contains));
            if (matrix && keep) skipped.add(name);
            if (matrix && !keep) {
                int rows = (int) e.shape()[0], cols = (int) e.shape()[1];
                int g = QuantFormats.resolveGroupSize(groupSize, cols);
                Part p = new Part(source, Kind.PACKED, rows, cols, g);
                specs.add(new TensorSpec(name + PackedMatrixIo.CODES, DType.U8, new long[] {rows, PackedCodes.rowBytes(format.codeBits(), cols)}));
                specs.add(new TensorSpec(name + PackedMatrixIo.PARAMS, DType.F16,
                        new long[] {rows, (long) GroupQuantized.groupsPerRow(cols, g) * format.paramCount()}));
                parts.put(name + PackedMatrixIo.CODES, p);
                parts.put(name + PackedMatrixIo.PARAMS, p);
                long n = (long) rows * cols;
                quantizedWeights += n;
                bits += n * QuantFormats.bitsPerWeight(format, cols, g);
            } else if (matrix || e.role() == WeightRole.EMBED) {
                specs.add(new TensorSpec(name, sourceDtype, e.shape()));
                parts.put(name, new Part(source, Kind.AS_SOURCE, 0, 0, 0));
            } else {
                // norms, biases and the shared-expert gate are loaded as floats and written back as F32
                specs.add(new TensorSpec(name, DType.F32, e.shape()));
                parts.put(name, new Part(source, Kind.F32, 0, 0, 0));
            }
        }
        ObjectNode cfg = configJson.deepCopy();
        cfg.put("torch_dtype", sourceDtype == DType.F32 ? "float32" : sourceDtype == DType.F16 ? "float16" : "bfloat16");
        cfg.put("bitcap_synthetic_seed", seed);
        cfg.put("tie_word_embeddings", tied);
        QuantizationConfig qc = new QuantizationConfig(format, groupSize, "rtn", quantizedWeights == 0 ? 0 : bits / quantizedWeights, skipped, null);
        cfg.set(QuantizationConfig.FIELD, qc.toJson());

        AtomicLong done = new AtomicLong();
        // a matrix's parameters are produced with its codes and held until their entry (the next one) is written
        Map<String, byte[]> pendingParams = new ConcurrentHashMap<>();
        AtomicFiles.writeDirectory(outDir, replace, dir -> {
            Files.writeString(dir.resolve("config.json"), cfg.toPrettyString());
            Files.writeString(dir.resolve("tokenizer.json"), SyntheticTokenizer.json(config.vocabSize()));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, Map.of("format", "pt", "bitcap", "quantized"), (spec, target) -> {
                Part p = parts.get(spec.name());
                long seedOf = SyntheticValues.seedOf(p.source(), seed);
                switch (p.kind()) {
                    case PACKED -> {
                        if (spec.name().endsWith(PackedMatrixIo.CODES)) {
                            pendingParams.put(spec.name(), packInto(p, seedOf, sourceDtype, format, spec.name(), target));
                            done.addAndGet((long) p.rows() * p.cols());
                            progress.accept(done.get());
                        } else {
                            String codes = spec.name().substring(0, spec.name().length() - PackedMatrixIo.PARAMS.length()) + PackedMatrixIo.CODES;
                            MemorySegment.copy(pendingParams.remove(codes), 0, target, ValueLayout.JAVA_BYTE, 0, (int) target.byteSize());
                        }
                    }
                    case AS_SOURCE, F32 -> {
                        writeRounded(p.source(), seedOf, sourceDtype, p.kind() == Kind.F32 ? DType.F32 : sourceDtype, target);
                        done.addAndGet(Tensor.elementCount(p.source().shape()));
                        progress.accept(done.get());
                    }
                }
            });
        });
    }

    private enum Kind { PACKED, AS_SOURCE, F32 }

    private record Part(TensorInventory.Entry source, Kind kind, int rows, int cols, int groupSize) {}

    /**
     * Generates, rounds to {@code sourceDtype} and RTN-quantizes a matrix in bands of rows in parallel, packing the
     * codes into {@code codes}; returns the fp16 parameters' bytes.
     */
    private static byte[] packInto(Part p, long seed, DType sourceDtype, QuantFormat format, String name, MemorySegment codes) {
        int rows = p.rows(), cols = p.cols();
        // bands small enough that every core has several, also for a small matrix (Qwen1.5-MoE's experts: 1408 x 2048)
        int perCore = (rows + 4 * Parallel.threads() - 1) / (4 * Parallel.threads());
        int bandRows = (int) Math.max(1, Math.min(perCore, BAND_ELEMENTS / cols));
        int bands = (rows + bandRows - 1) / bandRows;
        long rowBytes = PackedCodes.rowBytes(format.codeBits(), cols);
        long paramRowBytes = 2L * GroupQuantized.groupsPerRow(cols, p.groupSize()) * format.paramCount();
        byte[] params = new byte[Math.toIntExact(rows * paramRowBytes)];
        Parallel.forRange(bands, 1, (a, b) -> {
            float[] w = new float[bandRows * cols];
            for (int band = a; band < b; band++) {
                int r0 = band * bandRows, n = Math.min(bandRows, rows - r0);
                SyntheticValues.fill(p.source(), seed, (long) r0 * cols, n * cols, w, 0);
                roundTo(sourceDtype, w, n * cols);
                float[] values = n == bandRows ? w : java.util.Arrays.copyOf(w, n * cols);
                // the same quantizer and packer quantize uses, so the bytes are the same as quantizing the source checkpoint
                GroupQuantized q = RtnQuantizer.quantize(format, values, n, cols, p.groupSize(), name);
                try (Arena arena = Arena.ofConfined()) {
                    QuantizedTensor t = QuantizedTensor.pack(q, null, arena);
                    MemorySegment.copy(t.codes(), 0, codes, r0 * rowBytes, n * rowBytes);
                    MemorySegment.copy(t.params(), ValueLayout.JAVA_BYTE, 0, params, (int) (r0 * paramRowBytes), (int) (n * paramRowBytes));
                }
            }
        });
        return params;
    }

    /** Writes a tensor's values, rounded to {@code sourceDtype}, as {@code stored} (the source dtype, or F32). */
    private static void writeRounded(TensorInventory.Entry e, long seed, DType sourceDtype, DType stored, MemorySegment target) {
        long count = Tensor.elementCount(e.shape());
        int slab = (int) BAND_ELEMENTS;
        int slabs = (int) ((count + slab - 1) / slab);
        Parallel.forRange(slabs, 1, (a, b) -> {
            float[] v = new float[slab];
            for (int s = a; s < b; s++) {
                long start = (long) s * slab;
                int n = (int) Math.min(slab, count - start);
                SyntheticValues.fill(e, seed, start, n, v, 0);
                roundTo(sourceDtype, v, n);
                long off = stored.byteSize(start);
                switch (stored) {
                    case F32 -> MemorySegment.copy(v, 0, target, Tensor.F32_LE, off, n);
                    case F16 -> { for (int i = 0; i < n; i++) target.set(Tensor.I16_LE, off + 2L * i, Float.floatToFloat16(v[i])); }
                    case BF16 -> { for (int i = 0; i < n; i++) target.set(Tensor.I16_LE, off + 2L * i, Halfs.f32ToBf16(v[i])); }
                    default -> throw new IllegalStateException("cannot store " + stored);
                }
            }
        });
    }

    /** The values a checkpoint in {@code dtype} holds (and a loader reads back). */
    private static void roundTo(DType dtype, float[] v, int n) {
        switch (dtype) {
            case F32 -> { }
            case F16 -> { for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(Float.floatToFloat16(v[i])); }
            case BF16 -> { for (int i = 0; i < n; i++) v[i] = Halfs.bf16ToF32(Halfs.f32ToBf16(v[i])); }
            default -> throw new IllegalStateException("cannot round to " + dtype);
        }
    }
}
