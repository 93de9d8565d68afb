package dev.bitcap.cuda;

import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Times the decode GEMV kernel at Llama-3-8B shapes with CUDA events: several weight copies in rotation so that each
 * launch reads its weights from device memory rather than L2, the median over batches of back-to-back launches (and,
 * for comparison with earlier figures, of single launches), and the bytes moved (weights + activations + outputs)
 * over that time, next to a device-to-device copy measured in the same run.
 */
public final class GemvBench {
    /** One timing: microseconds (median) and GB/s of bytes moved. */
    /**
     * One timing: microseconds per launch back to back (median over batches), microseconds of a single launch timed
     * alone (median; includes the host's launch gap), and GB/s of bytes moved and fraction of the copy (back to back).
     */
    public record Result(String name, double micros, double singleMicros, double gbPerSecond, double ofCopy) {}

    private final CudaDevice device;

    public GemvBench(CudaDevice device) {
        this.device = device;
    }

    /** Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written (1 GiB buffers). */
    public double copyBandwidth() {
        long bytes = 1L << 30;
        long a = device.alloc(bytes), b = device.alloc(bytes);
        device.driver().memset(a, 1, bytes);
        double ms = time(() -> device.driver().copyOnDevice(b, a, bytes, device.stream()), 20, 1);
        device.free(a);
        device.free(b);
        return 2.0 * bytes / (ms * 1e-3) / 1e9;
    }

    /** The staged-GEMV settings compared on int4-asym, afp4, Q8_0 and Q4_0, then every weight type with the default settings. */
    public List<Result> run(Consumer<Result> sink) {
        double copy = copyBandwidth();
        List<Result> out = new ArrayList<>();
        Consumer<Result> both = r -> {
            out.add(r);
            sink.accept(r);
        };
        both.accept(new Result("device copy 1 GiB (read + write)", Double.NaN, Double.NaN, copy, 1));
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        int[][] shapes = {{14336, 4096}, {4096, 14336}, {4096, 4096}};
        Random rnd = new Random(1);
        // The packed and Q8_0 / Q4_0 kernels' settings side by side (issue 4: pick the best by measurement).
        // 2026-12-02 also compared 8 and 16 blocks per SM and 8 rows per warp: never faster, dropped to keep the run short.
        List<CudaMatMul.PackedTuning> tunings = List.of(new CudaMatMul.PackedTuning(false, 0, 2), new CudaMatMul.PackedTuning(true, 0, 0),
                CudaMatMul.PackedTuning.DEFAULT, new CudaMatMul.PackedTuning(true, 0, 4), new CudaMatMul.PackedTuning(true, 2, 2),
                new CudaMatMul.PackedTuning(true, 4, 2));
        sweep(List.of(QuantFormats.byName("int4-asym"), QuantFormats.byName("afp4"), DType.Q8_0, DType.Q4_0), tunings, true, shapes, copy, rnd, mm,
                both);
        // The experimental cp.async ring (gemv_async_1), after the rest: a kernel fault would end the run here.
        List<CudaMatMul.PackedTuning> async = List.of(CudaMatMul.PackedTuning.DEFAULT, new CudaMatMul.PackedTuning(true, 0, 2, 4),
                new CudaMatMul.PackedTuning(true, 0, 2, 6), new CudaMatMul.PackedTuning(true, 2, 2, 8));
        sweep(List.of(QuantFormats.byName("int4-asym"), QuantFormats.byName("afp4")), async, false, shapes, copy, rnd, mm, both);
        mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
        // The other weight types with the default settings, most wanted first (a run cut short keeps these).
        List<Object> types = new ArrayList<>();
        types.add(QuantFormats.byName("int2-asym"));
        types.add(new int[] {4, 3}); // binary: STBLLM 4:8, BiLLM dense
        types.add(new int[] {8, 2});
        types.add(DType.F16);
        for (String f : List.of("nf4", "int3-asym", "int8-asym")) types.add(QuantFormats.byName(f));
        types.addAll(List.of(DType.BF16, DType.F32));
        for (Object type : types) {
            for (int[] s : shapes) {
                Weights w = weights(type, s[0], s[1], rnd);
                for (int n : new int[] {1, 4, 16}) both.accept(measure(w, n, copy, rnd, "", false, mm, null));
                if (!(type instanceof DType t) || t.isFloat()) both.accept(measure(w, 16, copy, rnd, "", true, mm, null));
                w.free();
            }
        }
        return out;
    }

    /**
     * The opt-in decode kernels (issue 4, branch gemv4) beside the default staged kernel in the same run: int4-asym
     * and afp4 g128 at the three Llama-3-8B shapes, n = 1 and 4, each setting first compared with the default's output
     * (MISMATCH instead of a time when it differs). Settings: gemv_wide_* with 2, 4, 8 units per lane in flight (and
     * 4 rows per warp), gemv_bulk_* with rings of 2, 4, 8 steps (8 with 2 rows per warp; 4 with one slab per row),
     * gemv_async_1 with 4 stages, gemv_persist_1 with 4 and 6 steps (4 also with 4 and 1 rows per warp), gemv_tc_1
     * with 2, 4 and 6 steps. A setting that does not cover a shape (its kernel would not run) is left out. Predictions: docs/CUDA_NOTES.md ("gemv4").
     */
    public List<Result> runVariants(Consumer<Result> sink) {
        return runVariants(PackedGemvVariantCheck.KINDS, sink);
    }

    /** {@link #runVariants(Consumer)} with only the settings of the given kinds (wide, async, bulk) beside the default. */
    public List<Result> runVariants(java.util.Collection<String> kinds, Consumer<Result> sink) {
        PackedGemvVariantCheck.requireKinds(kinds);
        double copy = copyBandwidth();
        List<Result> out = new ArrayList<>();
        Consumer<Result> both = r -> {
            out.add(r);
            sink.accept(r);
        };
        both.accept(new Result("device copy 1 GiB (read + write)", Double.NaN, Double.NaN, copy, 1));
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        int[][] shapes = {{14336, 4096}, {4096, 14336}, {4096, 4096}};
        Random rnd = new Random(3);
        CudaMatMul.Variant wide = CudaMatMul.Variant.WIDE, bulk = CudaMatMul.Variant.BULK, persist = CudaMatMul.Variant.PERSIST,
                tc = CudaMatMul.Variant.TC;
        List<CudaMatMul.PackedTuning> tunings = List.of(CudaMatMul.PackedTuning.DEFAULT, CudaMatMul.PackedTuning.of(wide, 2, 0, 2),
                CudaMatMul.PackedTuning.of(wide, 4, 0, 2), CudaMatMul.PackedTuning.of(wide, 8, 0, 2), CudaMatMul.PackedTuning.of(wide, 4, 4, 2),
                CudaMatMul.PackedTuning.of(bulk, 2, 0, 2), CudaMatMul.PackedTuning.of(bulk, 4, 0, 2), CudaMatMul.PackedTuning.of(bulk, 8, 2, 2),
                CudaMatMul.PackedTuning.of(bulk, 4, 0, 0), new CudaMatMul.PackedTuning(true, 0, 2, 4), CudaMatMul.PackedTuning.of(persist, 4, 0, 0), CudaMatMul.PackedTuning.of(persist, 6, 0, 0), CudaMatMul.PackedTuning.of(persist, 4, 4, 0),
                CudaMatMul.PackedTuning.of(persist, 4, 1, 0), CudaMatMul.PackedTuning.of(tc, 4, 0, 0), CudaMatMul.PackedTuning.of(tc, 6, 0, 0),
                CudaMatMul.PackedTuning.of(tc, 2, 0, 0));
        for (String format : List.of("int4-asym", "afp4")) {
            for (int[] s : shapes) {
                Weights w = weights(QuantFormats.byName(format), s[0], s[1], rnd);
                for (CudaMatMul.PackedTuning t : tunings) {
                    String kind = t.asyncStages() > 0 ? "async" : t.variant().name().toLowerCase(java.util.Locale.ROOT);
                    boolean isDefault = t.equals(CudaMatMul.PackedTuning.DEFAULT);
                    if (!isDefault && !kinds.contains(kind)) continue; // the default runs always
                    boolean oneRowOnly = t.rowsPerWarp1() > 0 || t.asyncStages() > 0 || t.variant() == persist || t.variant() == tc;
                    for (int n : oneRowOnly ? new int[] {1} : new int[] {1, 4}) {
                        boolean fallsBack = !isDefault && t.asyncStages() == 0 && CudaMatMul.variantKernel(t, w.copies().get(0), n) == null;
                        if (fallsBack) continue; // the setting does not cover this shape: it would time the default again
                        both.accept(measure(w, n, copy, rnd, "[" + variantTag(t) + "] ", false, mm, t));
                    }
                }
                mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
                w.free();
            }
        }
        return out;
    }

    /** A short name of a setting: the kernel family, its depth, rows per warp (r=def: the kernel's) and blocks per SM. */
    static String variantTag(CudaMatMul.PackedTuning t) {
        String rows = " r" + (t.rowsPerWarp1() > 0 ? t.rowsPerWarp1() : "=def") + " b" + t.blocksPerSm();
        if (t.asyncStages() > 0) return "async" + t.asyncStages() + rows;
        return switch (t.variant()) {
            case STAGED -> "staged" + rows;
            case WIDE -> "wide" + (t.depth() > 0 ? t.depth() : 4) + rows;
            case BULK -> "bulk" + (t.depth() > 0 ? t.depth() : 4) + rows;
            case PERSIST -> "persist" + (t.depth() > 0 ? t.depth() : 4) + rows;
            case TC -> "tc" + (t.depth() > 0 ? t.depth() : 4) + rows;
        };
    }

    /**
     * Every setting on every shape of each type, n = 1 (and, with {@code batches}, n = 4 and 16 for the settings that
     * apply to them, and the cuBLAS prefill path per packed shape).
     */
    private void sweep(List<Object> types, List<CudaMatMul.PackedTuning> tunings, boolean batches, int[][] shapes, double copy, Random rnd,
                       CudaMatMul mm, Consumer<Result> both) {
        for (Object type : types) {
            for (int[] s : shapes) {
                Weights w = weights(type, s[0], s[1], rnd);
                for (CudaMatMul.PackedTuning t : tunings) {
                    boolean oneRowOnly = t.rowsPerWarp1() > 0 || t.asyncStages() > 0;
                    if (type instanceof DType && oneRowOnly) continue; // rows per warp, cp.async ring: packed kernels only
                    String tag = t.staged() ? "staged r" + (t.rowsPerWarp1() > 0 ? t.rowsPerWarp1() : "=def") + " b" + t.blocksPerSm()
                            + (t.asyncStages() > 0 ? " async" + t.asyncStages() : "") : "old kernel";
                    for (int n : oneRowOnly || !batches ? new int[] {1} : new int[] {1, 4, 16}) {
                        both.accept(measure(w, n, copy, rnd, "[" + tag + "] ", false, mm, t));
                    }
                }
                mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
                if (batches && !(type instanceof DType)) both.accept(measure(w, 16, copy, rnd, "", true, mm, null)); // prefill: dequantize + cuBLAS
                w.free();
            }
        }
    }

    /** Copies of one matrix in rotation (so that launches read device memory, not L2) and its label. */
    private record Weights(String label, List<DeviceMatrix> copies, CudaDevice device) {
        void free() {
            for (DeviceMatrix m : copies) m.free(device);
        }
    }

    private Weights weights(Object type, int rows, int cols, Random rnd) {
        DeviceMatrix first;
        String label;
        try (Arena arena = Arena.ofShared()) {
            if (type instanceof DType t) {
                first = DeviceMatrix.upload(device, CudaCheck.randomMatrix(arena, t, rows, cols, rnd));
                label = t.name();
            } else if (type instanceof int[] pattern) {
                BinaryTensor b = BinaryTensor.pack(CudaCheck.randomBinary(rnd, rows, cols, pattern[0], pattern[1]), arena);
                first = DeviceMatrix.upload(device, b);
                label = pattern[0] == 8 ? "billm" : "stbllm " + pattern[0] + ":8";
            } else {
                QuantFormat f = (QuantFormat) type;
                float[] v = new float[rows * cols];
                for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.05);
                first = DeviceMatrix.upload(device, QuantizedTensor.pack(RtnQuantizer.quantize(f, v, rows, cols, 128), null, arena));
                label = f.name() + " g128";
            }
        }
        int copies = (int) Math.max(2, Math.min(8, (2L << 30) / first.weightBytes())); // rotate through ~2 GiB, well past L2
        List<DeviceMatrix> ws = new ArrayList<>(List.of(first));
        for (int i = 1; i < copies; i++) ws.add(copy(first, rows));
        return new Weights(label, ws, device);
    }

    /**
     * One shape and batch with settings {@code t} (null: as {@code mm} stands): back-to-back launches (the figure
     * reported: a decode step issues its GEMVs back to back) and single launches between two events (the earlier
     * method; it adds the host's launch gap). Settings other than the default are first compared with the default on
     * the same inputs: a result off by more than fp32 reordering is reported as such instead of a time (settings
     * under trial are not in the check's rows).
     */
    private Result measure(Weights w, int n, double copy, Random rnd, String prefix, boolean cublas, CudaMatMul mm, CudaMatMul.PackedTuning t) {
        DeviceMatrix first = w.copies().get(0);
        int rows = first.rows(), cols = first.cols(), copies = w.copies().size();
        long x = device.alloc(4L * n * cols), y = device.alloc(4L * n * rows);
        float[] xs = new float[n * cols];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
        device.upload(x, xs, 0, xs.length);
        String name = String.format("%sgemv %-14s 1x%d·%dx%d n=%d%s", prefix, w.label(), cols, cols, rows, n, cublas ? " cublas" : "");
        if (t != null && !t.equals(CudaMatMul.PackedTuning.DEFAULT)) {
            mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
            float[] ref = result(mm, first, x, y, n);
            mm.setPackedTuning(t);
            float[] got = result(mm, first, x, y, n);
            double err = 0, max = 0;
            for (int i = 0; i < ref.length; i++) {
                err = Math.max(err, Math.abs(got[i] - ref[i]));
                max = Math.max(max, Math.abs(ref[i]));
            }
            if (!(err <= 1e-5 * max)) {
                device.free(x);
                device.free(y);
                return new Result(name + String.format(" MISMATCH vs default, rel %.1e", err / max), Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
        } else if (t != null) {
            mm.setPackedTuning(t);
        }
        int[] next = {0};
        Runnable one = cublas ? () -> mm.matmul(w.copies().get(next[0]++ % copies), x, y, n) : () -> mm.gemv(w.copies().get(next[0]++ % copies), x, y, n);
        double single = time(one, 100, 1);
        double ms = time(one, 30, BATCH);
        long moved = first.weightBytes() + 4L * n * cols + 4L * n * rows;
        double gbs = moved / (ms * 1e-3) / 1e9;
        device.free(x);
        device.free(y);
        return new Result(name, ms * 1e3, single * 1e3, gbs, gbs / copy);
    }

    private float[] result(CudaMatMul mm, DeviceMatrix m, long x, long y, int n) {
        device.zero(y, 4L * n * m.rows());
        mm.gemv(m, x, y, n);
        float[] out = new float[n * m.rows()];
        device.download(out, 0, y, out.length);
        return out;
    }

    /** Launches per timed batch in the back-to-back measure. */
    static final int BATCH = 20;

    /** Another device copy of {@code m} (codes, parameters, binary planes; a packed table is copied too, an input scale dropped). */
    private DeviceMatrix copy(DeviceMatrix m, int rows) {
        long p = device.alloc(m.bytes());
        device.driver().copyOnDevice(p, m.pointer(), m.bytes(), device.stream());
        DeviceMatrix.Packed packed = m.packed();
        if (packed != null) {
            long bytes = 2L * rows * packed.groups() * packed.paramCount();
            long params = device.alloc(bytes);
            device.driver().copyOnDevice(params, packed.params(), bytes, device.stream());
            long table = device.alloc(4L * 2 * (1 << packed.bits()));
            device.driver().copyOnDevice(table, packed.table(), 4L * 2 * (1 << packed.bits()), device.stream());
            packed = new DeviceMatrix.Packed(packed.storage(), packed.bits(), packed.zeroPoint(), packed.paramCount(), packed.unitsPerGroup(),
                    packed.groups(), params, table, 0, packed.affine(), packed.affineOffset());
        }
        DeviceMatrix.Binary binary = m.binary();
        if (binary != null) {
            long states = rows * BinaryLayout.stateBytesPerRow(m.cols(), binary.stateBits());
            long params = 2L * rows * BinaryLayout.blocksPerRow(m.cols()) * BinaryLayout.paramsPerBlock(binary.regions());
            long salient = BinaryLayout.salientBytes(m.cols());
            binary = new DeviceMatrix.Binary(binary.storage(), copyOf(binary.states(), states), copyOf(binary.params(), params),
                    copyOf(binary.salient(), salient), binary.keptPer8(), binary.regions(), binary.stateBits());
        }
        return new DeviceMatrix(p, m.type(), m.rows(), m.cols(), m.rowBytes(), packed, binary);
    }

    private long copyOf(long src, long bytes) {
        long p = device.alloc(bytes);
        device.driver().copyOnDevice(p, src, bytes, device.stream());
        return p;
    }

    /** Median milliseconds per call over {@code reps} timed batches of {@code batch} calls, after 10 warm-up calls. */
    private double time(Runnable work, int reps, int batch) {
        CudaDriver d = device.driver();
        MemorySegment start = d.createEvent(), end = d.createEvent();
        for (int i = 0; i < 10; i++) work.run();
        device.synchronize();
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) {
            d.record(start, device.stream());
            for (int k = 0; k < batch; k++) work.run();
            d.record(end, device.stream());
            d.synchronizeEvent(end);
            ms[i] = d.elapsed(start, end) / batch;
        }
        d.destroyEvent(start);
        d.destroyEvent(end);
        Arrays.sort(ms);
        return ms[reps / 2];
    }
}
