package dev.bitcap.cuda;

import dev.bitcap.engine.Backend;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.Generator;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.SamplerSettings;
import dev.bitcap.engine.Sequence;
import dev.bitcap.format.SafetensorsFile;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryQuantized;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.BlockQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Halfs;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs every CUDA path against the CPU path (and, for the Hugging Face fixtures, against what transformers computed)
 * and reports one row per comparison: the GEMV kernel and cuBLAS for each weight type, logits of every fixture in
 * fp32 and with its matrices cast to F16, BF16, Q8_0 and Q4_0, greedy tokens, batched decode, and stories260K (with
 * the greedy token chosen on the device against the host's argmax of the downloaded logits).
 * Errors are the largest absolute difference and that difference over the largest reference magnitude.
 */
public final class CudaCheck {
    /** One comparison; {@code relError} is max |got - ref| / max |ref|; token rows use mismatches (0 or 1). */
    public record Row(String group, String name, double absError, double relError, double tolerance, boolean pass, String note) {
        /**
         * {@code got} against {@code ref}: largest absolute error, relative to the largest |ref|; passes when every value
         * is finite, the lengths agree and that relative error is within {@code tolerance}.
         */
        public static Row compare(String group, String name, float[] ref, float[] got, double tolerance, String note) {
            double abs = 0, mag = 0;
            boolean finite = ref.length == got.length;
            for (int i = 0; finite && i < ref.length; i++) {
                if (!Float.isFinite(got[i])) finite = false;
                abs = Math.max(abs, Math.abs((double) got[i] - ref[i]));
                mag = Math.max(mag, Math.abs(ref[i]));
            }
            double rel = mag == 0 ? abs : abs / mag;
            return new Row(group, name, abs, rel, tolerance, finite && rel <= tolerance, finite ? note : "non-finite or missing output");
        }

        /** Ids that must be equal ({@code what} each one is: a token, a row's argmax): errors 1 and the first difference if not. */
        public static Row same(String group, String name, int[] ref, int[] got, String what) {
            boolean same = Arrays.equals(ref, got);
            int first = 0;
            while (first < Math.min(ref.length, got.length) && ref[first] == got[first]) first++;
            return new Row(group, name, same ? 0 : 1, same ? 0 : 1, 0, same,
                    same ? ref.length + " " + what + "s equal" : "first difference at " + what + " " + first + " of " + ref.length);
        }
    }

    private static final String[] FIXTURES = {"tiny-llama", "tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe"};
    /** fp32 everywhere, different summation order: the CPU-vs-transformers tolerance of HfFixtureGoldenTest. */
    static final double FP32_TOLERANCE = 1e-4;

    private final Path data;
    private final Consumer<Row> sink;
    private final List<Row> rows = new ArrayList<>();

    public CudaCheck(Path data, Consumer<Row> sink) {
        this.data = data;
        this.sink = sink;
    }

    private void add(Row r) {
        rows.add(r);
        sink.accept(r);
    }

    private void compare(String group, String name, float[] ref, float[] got, double tolerance, String note) {
        add(Row.compare(group, name, ref, got, tolerance, note));
    }

    private void tokens(String group, String name, int[] ref, int[] got) {
        add(Row.same(group, name, ref, got, "token"));
    }

    private void missing(String group, String name, Path p) {
        add(new Row(group, name, Double.NaN, Double.NaN, 0, false, "missing " + p));
    }

    /** Only the GEMV rows (dense, packed, binary): what a GEMV benchmark run needs checked. */
    public List<Row> runGemv(CudaDevice device) {
        gemvRows(device);
        packedRows(device);
        binaryRows(device);
        return rows;
    }

    /** Only the rows of the opt-in packed decode kernels (PackedGemvVariantCheck), every kind. */
    public List<Row> runGemvVariants(CudaDevice device) {
        return runGemvVariants(device, PackedGemvVariantCheck.KINDS);
    }

    /** The rows of the opt-in packed decode kernels of the given kinds (wide, async, bulk). */
    public List<Row> runGemvVariants(CudaDevice device, java.util.Collection<String> kinds) {
        new PackedGemvVariantCheck(device, this::add).run(kinds);
        return rows;
    }

    /** A one-line error naming the kinds when one of {@code kinds} is not a GEMV variant. */
    /** The opt-in packed decode GEMV kinds, in the order their rows run. */
    public static final List<String> GEMV_VARIANT_KINDS = PackedGemvVariantCheck.KINDS;

    public static void requireGemvVariantKinds(java.util.Collection<String> kinds) {
        PackedGemvVariantCheck.requireKinds(kinds);
    }

    public List<Row> run(CudaDevice device) {
        gemvRows(device);
        packedRows(device);
        binaryRows(device);
        kvRows(device);
        for (String f : FIXTURES) fixture(f);
        stories();
        // the prefill kernels and picker that are not the defaults, and the opt-in GEMV variants, have their rows with
        // --prefill-only and --gemv-variants
        new PrefillAttentionCheck(device, this::add).run(false);
        new SeerDecodeCheck(device, this::add).run();
        new DecodeStepCheck(device, this::add).run();
        return rows;
    }

    /** Only the rows of the named Hugging Face fixtures (e.g. the MoE ones after a change to the MoE path). */
    public List<Row> runFixtures(List<String> names) {
        requireFixtures(names);
        for (String f : names) fixture(f);
        return rows;
    }

    /** A one-line error naming the fixtures when one of {@code names} is not one of them. */
    public static void requireFixtures(List<String> names) {
        for (String f : names) {
            if (!Arrays.asList(FIXTURES).contains(f)) {
                throw new dev.bitcap.BitcapException("unknown fixture '" + f + "' (fixtures: " + String.join(", ", FIXTURES) + ")");
            }
        }
    }

    // ---- GEMV and cuBLAS against the CPU kernels ----------------------------------------------------------

    private void gemvRows(CudaDevice device) {
        CudaOps ops = new CudaOps(device);
        CudaMatMul mm = new CudaMatMul(device, ops);
        Random rnd = new Random(7);
        // 200x2304: Q8_0 / Q4_0 over three column slabs, the last one partial.
        int[][] shapes = {{1024, 4096}, {77, 96}, {300, 172}, {200, 2304}};
        for (DType type : List.of(DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0)) {
            for (int[] shape : shapes) {
                int rowsW = shape[0], cols = shape[1];
                if (type.isBlockQuantized() && cols % 32 != 0) continue;
                try (Arena arena = Arena.ofShared()) {
                    Tensor w = randomMatrix(arena, type, rowsW, cols, rnd);
                    DeviceMatrix dw = DeviceMatrix.upload(device, w);
                    for (int n : new int[] {1, 3, 16, 33}) {
                        float[] x = new float[n * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        float[] ref = new float[n * rowsW];
                        w.matmul(x, ref, n);
                        long dx = device.alloc(4L * x.length), dy = device.alloc(4L * ref.length);
                        device.upload(dx, x, 0, x.length);
                        String shape1 = rowsW + "x" + cols + " n=" + n;
                        gemvCase(device, mm, dw, dx, dy, n, ref, type + " gemv " + shape1, FP32_GEMV, false);
                        if (type.isBlockQuantized() && rowsW == 1024 && n <= 4) oneSlab(device, mm, dw, dx, dy, n, ref, type + " gemv one slab " + shape1);
                        if (n >= CudaMatMul.CUBLAS_MIN_ROWS && type.isFloat()) {
                            gemvCase(device, mm, dw, dx, dy, n, ref, type + " cublas " + shape1, cublasTolerance(type), true);
                        }
                        device.free(dx);
                        device.free(dy);
                    }
                    dw.free(device);
                }
            }
        }
    }

    /** Every registered packed format: fused GEMV (decode) and dequantize + cuBLAS fp16 (prefill) against the CPU kernels. */
    private void packedRows(CudaDevice device) {
        CudaOps ops = new CudaOps(device);
        CudaMatMul mm = new CudaMatMul(device, ops);
        Random rnd = new Random(11);
        // {rows, cols, group size (-1 per channel), with input scale}
        // The last shape spreads its 66 units over several column slabs, the last one partial.
        int[][] shapes = {{1024, 4096, 128, 0}, {77, 172, 32, 1}, {300, 96, -1, 0}, {200, 2100, 64, 1}};
        for (QuantFormat f : QuantFormats.all()) {
            for (int[] shape : shapes) {
                int rowsW = shape[0], cols = shape[1];
                float[] wv = new float[rowsW * cols];
                for (int i = 0; i < wv.length; i++) wv[i] = (float) (rnd.nextGaussian() * 0.05);
                float[] scale = null;
                if (shape[3] == 1) {
                    scale = new float[cols];
                    for (int i = 0; i < cols; i++) scale[i] = 0.5f + rnd.nextFloat();
                }
                try (Arena arena = Arena.ofShared()) {
                    QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(f, wv, rowsW, cols, shape[2]), scale, arena);
                    DeviceMatrix dw = DeviceMatrix.upload(device, q);
                    String label = f.name() + (shape[2] < 0 ? " per-channel" : " g" + shape[2]) + (scale != null ? " scaled" : "") + " "
                            + rowsW + "x" + cols;
                    for (int n : new int[] {1, 3, 5, 16}) {
                        float[] x = new float[n * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        float[] ref = new float[n * rowsW];
                        q.matmul(x, ref, n);
                        long dx = device.alloc(4L * x.length), dy = device.alloc(4L * ref.length);
                        device.upload(dx, x, 0, x.length);
                        gemvCase(device, mm, dw, dx, dy, n, ref, label + " gemv n=" + n, FP32_GEMV, false);
                        if (rowsW == 1024 && n == 1) oneSlab(device, mm, dw, dx, dy, n, ref, label + " gemv one slab n=" + n);
                        if (n >= CudaMatMul.CUBLAS_MIN_ROWS) {
                            gemvCase(device, mm, dw, dx, dy, n, ref, label + " fp16 cublas n=" + n, cublasTolerance(DType.F16), true);
                        }
                        device.free(dx);
                        device.free(dy);
                    }
                    dw.free(device);
                }
            }
        }
    }

    /** The binary (BiLLM / STBLLM) layouts: fused GEMV and dequantize + cuBLAS fp16 against BinaryTensor on the CPU. */
    private void binaryRows(CudaDevice device) {
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        Random rnd = new Random(13);
        // {kept per 8, regions}: BiLLM dense, STBLLM 4:8 and 6:8
        int[][] patterns = {{8, 2}, {4, 3}, {6, 3}};
        int[][] shapes = {{1024, 4096}, {77, 172}, {300, 96}};
        for (int[] pattern : patterns) {
            for (int[] shape : shapes) {
                int rowsW = shape[0], cols = shape[1];
                try (Arena arena = Arena.ofShared()) {
                    BinaryTensor w = BinaryTensor.pack(randomBinary(rnd, rowsW, cols, pattern[0], pattern[1]), arena);
                    DeviceMatrix dw = DeviceMatrix.upload(device, w);
                    String label = w.storage() + " " + rowsW + "x" + cols;
                    for (int n : new int[] {1, 5, 16}) {
                        float[] x = new float[n * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        float[] ref = new float[n * rowsW];
                        w.matmul(x, ref, n);
                        long dx = device.alloc(4L * x.length), dy = device.alloc(4L * ref.length);
                        device.upload(dx, x, 0, x.length);
                        if (n < CudaMatMul.CUBLAS_MIN_ROWS) {
                            gemvCase(device, mm, dw, dx, dy, n, ref, label + " gemv n=" + n, FP32_GEMV, false);
                        } else {
                            gemvCase(device, mm, dw, dx, dy, n, ref, label + " fp16 cublas n=" + n, cublasTolerance(DType.F16), true);
                        }
                        device.free(dx);
                        device.free(dy);
                    }
                    dw.free(device);
                }
            }
        }
    }

    /** Only the paged GPU KV cache rows ({@code check --kv-only}). */
    public List<Row> kvRows(CudaDevice device) {
        new CudaKvCheck(this::add).run(device);
        return rows;
    }

    /**
     * A binary matrix with random planes (every state the layout allows, pruned weights with sign 0, about one salient
     * column in 8) and random fp16 parameters: the kernels must decode whatever the layout can hold.
     */
    static BinaryQuantized randomBinary(Random rnd, int rows, int cols, int keptPer8, int regions) {
        int bits = BinaryLayout.stateBits(keptPer8, regions);
        boolean[] salient = new boolean[cols];
        for (int c = 0; c < cols; c++) salient[c] = rnd.nextInt(8) == 0;
        byte[] signs = new byte[rows * cols], states = new byte[rows * cols];
        for (int i = 0; i < signs.length; i++) {
            states[i] = (byte) rnd.nextInt(1 << bits);
            signs[i] = (byte) (BinaryLayout.pruned(keptPer8) && states[i] == 0 ? 0 : rnd.nextInt(2));
        }
        float[] params = new float[rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions)];
        for (int i = 0; i < params.length; i++) params[i] = Float.float16ToFloat(Float.floatToFloat16((float) (rnd.nextGaussian() * 0.05)));
        return new BinaryQuantized(rows, cols, keptPer8, regions, salient, signs, states, params);
    }

    /** fp32 products of up to 4096 terms in another order: rounding far under this. */
    static final double FP32_GEMV = 1e-5;

    /**
     * cuBLAS with 16-bit weights takes its activations rounded to the weight type (unit roundoff 2^-9 for bf16,
     * 2^-12 for fp16 to nearest); summed over random-sign terms the product's error stays within a few units of that.
     * F32 goes through cuBLAS in fp32 (no TF32), so it keeps the GEMV tolerance.
     */
    static double cublasTolerance(DType t) {
        return switch (t) {
            case BF16 -> 1e-2;
            case F16 -> 2e-3;
            default -> FP32_GEMV;
        };
    }

    /** The staged kernels with one column slab per row: several 32-unit steps per warp instead of slabs across blocks. */
    private void oneSlab(CudaDevice device, CudaMatMul mm, DeviceMatrix w, long dx, long dy, int n, float[] ref, String name) {
        CudaMatMul.PackedTuning before = mm.packedTuning();
        mm.setPackedTuning(new CudaMatMul.PackedTuning(true, 0, 0));
        gemvCase(device, mm, w, dx, dy, n, ref, name, FP32_GEMV, false);
        mm.setPackedTuning(before);
    }

    private void gemvCase(CudaDevice device, CudaMatMul mm, DeviceMatrix w, long dx, long dy, int n, float[] ref, String name,
                          double tolerance, boolean cublas) {
        device.zero(dy, 4L * ref.length);
        if (cublas) mm.matmul(w, dx, dy, n);
        else mm.gemv(w, dx, dy, n);
        float[] got = new float[ref.length];
        device.download(got, 0, dy, got.length);
        compare("gemv", name, ref, got, tolerance, "");
    }

    static Tensor randomMatrix(Arena arena, DType type, int rows, int cols, Random rnd) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.05);
        return fromFloats(arena, type, v, rows, cols);
    }

    /** The row-major floats stored as {@code type} (Q8_0/Q4_0 by GGML's rounding). */
    static Tensor fromFloats(Arena arena, DType type, float[] v, int rows, int cols) {
        Tensor t = Tensor.allocate(arena, type, rows, cols);
        MemorySegment s = t.data();
        switch (type) {
            case F32 -> MemorySegment.copy(v, 0, s, Tensor.F32_LE, 0, v.length);
            case F16 -> {
                for (int i = 0; i < v.length; i++) s.set(Tensor.I16_LE, 2L * i, Float.floatToFloat16(v[i]));
            }
            case BF16 -> {
                for (int i = 0; i < v.length; i++) s.set(Tensor.I16_LE, 2L * i, Halfs.f32ToBf16(v[i]));
            }
            case Q8_0, Q4_0 -> {
                long rowBytes = type.byteSize(cols);
                for (int r = 0; r < rows; r++) BlockQuantizer.quantizeInto(type, v, r * cols, cols, s, r * rowBytes);
            }
            default -> throw new IllegalArgumentException("no " + type + " matrices in the check");
        }
        return t;
    }

    // ---- whole models ------------------------------------------------------------------------------------

    private void fixture(String name) {
        Path dir = data.resolve("hf-fixtures").resolve(name);
        Path weights = dir.resolve("model.safetensors"), refFile = dir.resolve("reference.safetensors");
        if (!Files.exists(weights) || !Files.exists(refFile)) {
            missing(name, "logits", Files.exists(weights) ? refFile : weights);
            return;
        }
        try (LoadedModel model = ModelLoader.load(dir, null); SafetensorsFile ref = SafetensorsFile.open(refFile)) {
            for (int i = 0; i < 2; i++) {
                int[] ids = ints(ref.tensor("input_ids_" + i).toLongArray());
                float[] cpu = logits(new CpuBackend(model, PassRecorder.NONE), ids);
                String path = ids.length >= CudaMatMul.CUBLAS_MIN_ROWS ? "cublas" : "gemv";
                float[] gpu = logits(new CudaBackend(model, PassRecorder.NONE), ids);
                compare(name, "logits input " + i + " (" + ids.length + " tok, " + path + ") vs cpu", cpu, gpu, FP32_TOLERANCE, "");
                compare(name, "logits input " + i + " (" + path + ") vs transformers", ref.tensor("logits_" + i).toFloatArray(), gpu,
                        FP32_TOLERANCE, "");
                if (path.equals("cublas")) {
                    CudaBackend b = new CudaBackend(model, PassRecorder.NONE);
                    b.setCublas(false);
                    compare(name, "logits input " + i + " (gemv only) vs cpu", cpu, logits(b, ids), FP32_TOLERANCE, "");
                }
            }
            int[] prompt = ints(ref.tensor("greedy_prompt").toLongArray());
            int[] expected = ints(ref.tensor("greedy_output").toLongArray());
            try (CudaBackend b = new CudaBackend(model, PassRecorder.NONE)) {
                int[] got = new Generator(b, model.config().maxContext())
                        .generate(List.of(prompt), expected.length, SamplerSettings.GREEDY, Set.of(), (s, t) -> {}).tokens().get(0);
                tokens(name, "greedy " + expected.length + " tokens vs transformers", expected, got);
            }
            batched(name, model);
            if (model.config().isMoe()) {
                moeRouting(name, model, ints(ref.tensor("input_ids_1").toLongArray()), ints(ref.tensor("input_ids_0").toLongArray()), prompt);
            }
            int[] ids = ints(ref.tensor("input_ids_0").toLongArray());
            int[] shortIds = ints(ref.tensor("input_ids_1").toLongArray());
            for (String format : List.of("int4-asym", "afp4", "int3-sym", "nf4")) {
                try (Arena arena = Arena.ofShared()) {
                    LoadedModel packed = model.withWeights(packWeights(model.weights(), QuantFormats.byName(format), 32, arena), null);
                    compare(name, format + " g32 weights, logits input 1 (gemv) vs cpu", logits(new CpuBackend(packed, PassRecorder.NONE), shortIds),
                            logits(new CudaBackend(packed, PassRecorder.NONE), shortIds), FP32_TOLERANCE, "");
                    compare(name, format + " g32 weights, logits input 0 (fp16 cublas) vs cpu", logits(new CpuBackend(packed, PassRecorder.NONE), ids),
                            logits(new CudaBackend(packed, PassRecorder.NONE), ids), modelCublasTolerance(DType.F16), "");
                    if (format.equals("int4-asym")) programmaticRows(name, format + " g32 weights", packed, List.of(prompt), 16);
                }
            }
            for (DType type : List.of(DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0)) {
                try (Arena arena = Arena.ofShared()) {
                    LoadedModel cast = model.withWeights(castWeights(model.weights(), type, arena), null);
                    float[] cpuShort = logits(new CpuBackend(cast, PassRecorder.NONE), shortIds);
                    compare(name, type + " weights, logits input 1 (gemv) vs cpu", cpuShort,
                            logits(new CudaBackend(cast, PassRecorder.NONE), shortIds), FP32_TOLERANCE, "");
                    float[] cpuLong = logits(new CpuBackend(cast, PassRecorder.NONE), ids);
                    double tol = type.isFloat() ? modelCublasTolerance(type) : FP32_TOLERANCE;
                    compare(name, type + " weights, logits input 0 (" + (type.isFloat() ? "cublas" : "gemv") + ") vs cpu", cpuLong,
                            logits(new CudaBackend(cast, PassRecorder.NONE), ids), tol, "");
                }
            }
        } catch (RuntimeException e) {
            add(new Row(name, "run", Double.NaN, Double.NaN, 0, false, e.toString()));
        }
    }

    /**
     * MoE layers routed on the device (CudaMoe) against the host routing and the CPU: logits of a short and a longer
     * pass, the experts every pass record holds over a prompt and 8 graph-captured decode steps, batched decode, and
     * the expert GEMVs of packed and bf16 experts.
     */
    private void moeRouting(String name, LoadedModel model, int[] ids, int[] longIds, int[] prompt) {
        CudaBackend device = new CudaBackend(model, PassRecorder.NONE);
        if (!device.canRouteOnDevice()) {
            device.close();
            add(new Row(name, "MoE routing on the device", Double.NaN, Double.NaN, 0, false, "experts not covered by the device routing"));
            return;
        }
        device.setDeviceRouting(true);
        CudaBackend host = new CudaBackend(model, PassRecorder.NONE);
        host.setDeviceRouting(false);
        compare(name, "MoE routed on the device vs on the host, logits input 1 (" + ids.length + " tok)", logits(host, ids), logits(device, ids),
                FP32_TOLERANCE, "");
        // a longer pass: several experts get more than 4 tokens (several reads of a row), the other products use cuBLAS
        CudaBackend longDevice = new CudaBackend(model, PassRecorder.NONE);
        longDevice.setDeviceRouting(true);
        compare(name, "MoE routed on the device, logits input 0 (" + longIds.length + " tok) vs cpu", logits(new CpuBackend(model, PassRecorder.NONE), longIds),
                logits(longDevice, longIds), FP32_TOLERANCE, "");
        PassRecorder cpuRecords = new PassRecorder(), gpuRecords = new PassRecorder();
        generate(new CpuBackend(model, cpuRecords), model, List.of(prompt), 8);
        CudaBackend routedOnDevice = new CudaBackend(model, gpuRecords);
        routedOnDevice.setDeviceRouting(true);
        generate(routedOnDevice, model, List.of(prompt), 8);
        int[][][] want = cpuRecords.records().stream().map(PassRecord::routedExperts).toArray(int[][][]::new);
        int[][][] got = gpuRecords.records().stream().map(PassRecord::routedExperts).toArray(int[][][]::new);
        boolean same = Arrays.deepEquals(want, got);
        add(new Row(name, "experts chosen per token and layer, prompt + 8 decode steps (device routing, graphs) vs cpu", same ? 0 : 1,
                same ? 0 : 1, 0, same, same ? want.length + " pass records equal" : "the pass records differ"));
        int vocab = model.config().vocabSize();
        List<int[]> prompts = List.of(new int[] {1 % vocab, 17, 33, 5, 9}, new int[] {2, 40, 3}, new int[] {7, 8, 9, 10, 11, 12, 13});
        int[][] cpu = generate(new CpuBackend(model, PassRecorder.NONE), model, prompts, 12);
        CudaBackend batched = new CudaBackend(model, PassRecorder.NONE);
        batched.setDeviceRouting(true);
        int[][] gpu = generate(batched, model, prompts, 12);
        for (int s = 0; s < prompts.size(); s++) tokens(name, "batched decode (3 sequences, device routing) seq " + s + " vs cpu", cpu[s], gpu[s]);
        // the expert GEMVs of the other storages: packed (zero point, one- and two-parameter tables, 3 bits) and bf16
        for (String format : List.of("int4-asym", "nf4", "int3-sym", "afp4", "int8-sym", "bf16")) {
            try (Arena arena = Arena.ofShared()) {
                Weights.Model w = format.equals("bf16") ? castWeights(model.weights(), DType.BF16, arena)
                        : packWeights(model.weights(), QuantFormats.byName(format), 32, arena);
                LoadedModel m = model.withWeights(w, null);
                CudaBackend b = new CudaBackend(m, PassRecorder.NONE);
                b.setDeviceRouting(true);
                compare(name, format + (format.equals("bf16") ? "" : " g32") + " weights, device routing, logits input 1 vs cpu",
                        logits(new CpuBackend(m, PassRecorder.NONE), ids), logits(b, ids), FP32_TOLERANCE, "");
            }
        }
    }

    /** A whole small model through cuBLAS with 16-bit weights: every product's activations rounded (see cublasTolerance). */
    static double modelCublasTolerance(DType t) {
        return t == DType.BF16 ? 3e-2 : 5e-3;
    }

    /** Three prompts of different lengths decoded together: the same greedy tokens as the CPU backend. */
    private void batched(String name, LoadedModel model) {
        int vocab = model.config().vocabSize();
        List<int[]> prompts = List.of(new int[] {1 % vocab, 17, 33, 5, 9}, new int[] {2, 40, 3}, new int[] {7, 8, 9, 10, 11, 12, 13});
        int[][] cpu = generate(new CpuBackend(model, PassRecorder.NONE), model, prompts, 12);
        int[][] gpu = generate(new CudaBackend(model, PassRecorder.NONE), model, prompts, 12);
        for (int s = 0; s < prompts.size(); s++) tokens(name, "batched decode (3 sequences) seq " + s + " vs cpu", cpu[s], gpu[s]);
    }

    /**
     * Greedy decode through CUDA graphs with programmatic dependent launch on (the default on Hopper) and off, both
     * against the CPU: a kernel that read its inputs before griddepcontrol.wait would show here as different tokens.
     */
    private void programmaticRows(String group, String what, LoadedModel model, List<int[]> prompts, int count) {
        int[][] cpu = generate(new CpuBackend(model, PassRecorder.NONE), model, prompts, count);
        for (boolean on : new boolean[] {true, false}) {
            CudaDevice device = CudaDevice.open(0);
            if (on && !device.programmaticLaunch()) { // before Hopper, or BITCAP_PDL=0: only the row with it off
                device.close();
                continue;
            }
            device.setProgrammaticLaunch(on);
            int[][] gpu = generate(new CudaBackend(device, model, PassRecorder.NONE), model, prompts, count);
            for (int s = 0; s < prompts.size(); s++) {
                tokens(group, "greedy " + what + " (CUDA graphs, programmatic launch " + (on ? "on" : "off") + ") seq " + s + " vs cpu", cpu[s], gpu[s]);
            }
        }
    }

    private static int[][] generate(Backend backend, LoadedModel model, List<int[]> prompts, int count) {
        try (backend) {
            var r = new Generator(backend, model.config().maxContext()).generate(prompts, count, SamplerSettings.GREEDY, Set.of(), (s, t) -> {});
            return r.tokens().toArray(int[][]::new);
        }
    }

    private void stories() {
        Path bin = data.resolve("models/stories260K.bin"), tok = data.resolve("models/tok512.bin");
        if (!Files.exists(bin) || !Files.exists(tok)) {
            missing("stories260K", "greedy", Files.exists(bin) ? tok : bin);
            return;
        }
        try (LoadedModel model = ModelLoader.load(bin, tok)) {
            var t = model.tokenizer();
            List<int[]> bos = List.of(new int[] {t.bosId()});
            int[] cpu = generate(new CpuBackend(model, PassRecorder.NONE), model, bos, 400)[0];
            int[] gpu = generate(new CudaBackend(model, PassRecorder.NONE), model, bos, 400)[0];
            tokens("stories260K", "greedy 400 tokens from BOS (CUDA graphs) vs cpu", cpu, gpu);
            CudaBackend plain = new CudaBackend(model, PassRecorder.NONE);
            plain.setGraphs(false);
            tokens("stories260K", "greedy 400 tokens from BOS (no graphs) vs cpu", cpu, generate(plain, model, bos, 400)[0]);
            programmaticRows("stories260K", "400 from BOS", model, bos, 400);
            // the rows above choose by forwardGreedy (Generator); these set it against forward's logits + Ops.argmax
            List<int[]> three = List.of(new int[] {t.bosId()}, new int[] {t.bosId(), 403, 407, 261}, new int[] {t.bosId(), 378, 77});
            for (List<int[]> prompts : List.of(bos, three)) {
                String name = "forwardGreedy (argmax_rows, CUDA graphs) vs forward + Ops.argmax, " + prompts.size()
                        + (prompts.size() == 1 ? " sequence" : " sequences") + ", prompt + 16 decode steps";
                tokens("stories260K", name, greedySteps(new CudaBackend(model, PassRecorder.NONE), prompts, 16, false),
                        greedySteps(new CudaBackend(model, PassRecorder.NONE), prompts, 16, true));
            }
            for (int len : new int[] {64, 400}) {
                int[] ids = Arrays.copyOf(cpu, len);
                compare("stories260K", "logits of " + len + " tokens (cublas, tiled prefill) vs cpu", logits(new CpuBackend(model, PassRecorder.NONE), ids),
                        logits(new CudaBackend(model, PassRecorder.NONE), ids), FP32_TOLERANCE, "");
            }
        } catch (RuntimeException e) {
            add(new Row("stories260K", "run", Double.NaN, Double.NaN, 0, false, e.toString()));
        }
    }

    /**
     * The tokens chosen after the prompts' pass and after each of {@code steps} decode passes, sequence after sequence:
     * by the backend's forwardGreedy ({@code onDevice}), or by Ops.argmax over the logits that forward downloads.
     */
    private static int[] greedySteps(Backend backend, List<int[]> prompts, int steps, boolean onDevice) {
        try (backend) {
            List<Sequence> seqs = new ArrayList<>();
            for (int[] p : prompts) seqs.add(backend.newSequence(p.length + steps));
            int[][] chosen = new int[prompts.size()][steps + 1];
            List<int[]> tokens = prompts;
            for (int step = 0; step <= steps; step++) {
                int[] next = onDevice ? backend.forwardGreedy(seqs, tokens) : Ops.argmaxRows(backend.forward(seqs, tokens, false), seqs.size());
                tokens = new ArrayList<>();
                for (int s = 0; s < next.length; s++) {
                    chosen[s][step] = next[s];
                    tokens.add(new int[] {next[s]});
                }
            }
            return Arrays.stream(chosen).flatMapToInt(Arrays::stream).toArray();
        }
    }

    private static float[] logits(Backend backend, int[] ids) {
        try (backend) {
            return backend.forward(List.of(backend.newSequence(ids.length)), List.of(ids), true);
        }
    }

    /** Every matrix and the embedding of {@code w} stored as {@code type} (matrices whose width does not allow it stay). */
    static Weights.Model castWeights(Weights.Model w, DType type, Arena arena) {
        Weights.Model m = Weights.mapMatrices(w, (slot, matrix) -> cast(matrix, type, arena));
        return new Weights.Model((Tensor) cast(w.embedding(), type, arena), m.layers(), m.finalNorm(), m.lmHead());
    }

    /** Every matrix of {@code w} quantized by RTN to {@code format} and packed (the embedding stays as it is). */
    static Weights.Model packWeights(Weights.Model w, QuantFormat format, int groupSize, Arena arena) {
        return Weights.mapMatrices(w, (slot, matrix) -> {
            if (!(matrix instanceof Tensor t)) return matrix;
            int rows = Math.toIntExact(t.rows()), cols = Math.toIntExact(t.cols());
            return QuantizedTensor.pack(RtnQuantizer.quantize(format, t.toFloatArray(), rows, cols, groupSize), null, arena);
        });
    }

    private static WeightMatrix cast(WeightMatrix matrix, DType type, Arena arena) {
        if (!(matrix instanceof Tensor t) || t.cols() % type.blockSize() != 0) return matrix;
        return fromFloats(arena, type, t.toFloatArray(), Math.toIntExact(t.rows()), Math.toIntExact(t.cols()));
    }

    private static int[] ints(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Math.toIntExact(v[i]);
        return out;
    }

}
