package dev.bitcap.cuda;

import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Check rows of the opt-in packed decode kernels (gemv_wide_1/4, gemv_bulk_1/4, gemv_persist_1, gemv_tc_1,
 * gemv_async_1; see {@link CudaMatMul.Variant}) against the CPU kernels, with the tolerance of the default packed GEMV
 * rows: every registered format at odd shapes (a partial unit, an input scale, one group per row, several column slabs,
 * and a slab of 8 steps per warp so that the rings wrap twice, more row groups than the one-wave kernels have warps),
 * n = 1 and 3 (n = 1 for async, persist and tc), and the fused residual add (matmulAdd) of every kind but async. Rows run kind by kind,
 * the bulk-copy kernels last (see {@link #KINDS}); every kind sees the same matrices. A row's name says which kernel ran: where a variant does not cover a shape (bulk
 * copies need rows of a multiple of 16 bytes) the default staged kernel runs and the row says so.
 */
final class PackedGemvVariantCheck {
    private final CudaDevice device;
    private final Consumer<CudaCheck.Row> sink;

    PackedGemvVariantCheck(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        this.device = device;
        this.sink = sink;
    }

    /** The kinds of variant, in the order their rows run (the bulk-copy kernels last: a fault ends the check there). */
    static final List<String> KINDS = List.of("wide", "async", "persist", "tc", "bulk");

    /** A kind's setting under check, with the kernel's own defaults (wide, bulk, persist and tc share one module per format). */
    static CudaMatMul.PackedTuning tuning(String kind, int blocksPerSm) {
        return switch (kind) {
            case "wide" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.WIDE, 0, 0, blocksPerSm);
            case "bulk" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.BULK, 0, 0, blocksPerSm);
            case "persist" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.PERSIST, 0, 0, 0);
            case "tc" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.TC, 0, 0, 0);
            case "async" -> new CudaMatMul.PackedTuning(true, 0, blocksPerSm, 4); // gemv_async_1, in the default module
            default -> throw new dev.bitcap.BitcapException("unknown GEMV variant '" + kind + "' (variants: " + String.join(", ", KINDS) + ")");
        };
    }

    /** The activation-row counts a kind's kernels cover (async, persist and tc: n = 1 only). */
    private static int[] batches(String kind) {
        return List.of("async", "persist", "tc").contains(kind) ? new int[] {1} : new int[] {1, 3};
    }

    /** A one-line error naming the kinds when one of {@code kinds} is not one of them. */
    static void requireKinds(java.util.Collection<String> kinds) {
        for (String k : kinds) tuning(k, 2);
    }

    /** One matrix on the device, its activations and the CPU's products for n = 1 and 3. */
    private record Case(String label, int blocksPerSm, DeviceMatrix w, float[][] x, float[][] ref) {}

    /**
     * {rows, cols, group size (-1 per channel), with input scale, blocks per SM (0: one slab per row)}: a partial
     * unit with an input scale; one group per row; several column slabs, the last partial; one slab of 8 steps per
     * warp (the rings wrap twice, wide reloads); and more rows than gemv_persist_1's warps (4224 rows of 2 at 2
     * blocks per SM on 132 SMs): several row groups per warp, of 1 step (the ring runs ahead across groups) and of 2;
     * and for gemv_tc_1 (whole 128-column steps, groups of whole steps): a partial 16-row tile with an input scale and
     * fewer steps than warps, one group per row, groups of two steps, and 14336 columns (14 steps per warp, the
     * activations past 48 KiB of shared memory).
     */
    private static final int[][] SHAPES = {{1024, 4096, 128, 0, 2}, {77, 172, 32, 1, 2}, {300, 96, -1, 0, 2}, {200, 2100, 64, 1, 2},
            {40, 8192, 128, 0, 0}, {4500, 256, 64, 0, 2}, {4400, 1056, 32, 1, 2}, {77, 512, 128, 1, 2}, {300, 1024, -1, 0, 2},
            {4500, 256, 256, 0, 2}, {512, 14336, 128, 0, 2}};

    /** The rows of the given kinds (see {@link #KINDS}); each (format, shape) is quantized once for every kind. */
    void run(java.util.Collection<String> kinds) {
        requireKinds(kinds);
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        List<QuantFormat> formats = QuantFormats.all();
        Case[][] cases = new Case[formats.size()][SHAPES.length];
        try (Arena arena = Arena.ofShared()) {
            for (String kind : KINDS) {
                if (!kinds.contains(kind)) continue;
                for (int fi = 0; fi < formats.size(); fi++) {
                    for (int si = 0; si < SHAPES.length; si++) {
                        try {
                            if (cases[fi][si] == null) cases[fi][si] = newCase(formats.get(fi), SHAPES[si], new Random(1000L * fi + si), arena);
                            runCase(mm, cases[fi][si], kind);
                        } catch (RuntimeException e) {
                            sink.accept(new CudaCheck.Row("gemv variant", kind + " " + formats.get(fi).name() + " " + SHAPES[si][0] + "x" + SHAPES[si][1],
                                    Double.NaN, Double.NaN, 0, false, e.toString()));
                        }
                    }
                }
                if (kind.equals("async")) continue; // its module is the default one, whose accumulate rows DecodeStepCheck has
                try {
                    accumulateRows(mm, kind);
                } catch (RuntimeException e) {
                    sink.accept(new CudaCheck.Row("gemv variant", kind + " matmulAdd", Double.NaN, Double.NaN, 0, false, e.toString()));
                }
            }
        } finally {
            for (Case[] row : cases) {
                for (Case c : row) if (c != null) c.w().free(device);
            }
        }
    }

    private Case newCase(QuantFormat f, int[] shape, Random rnd, Arena arena) {
        int rows = shape[0], cols = shape[1];
        float[] scale = null;
        if (shape[3] == 1) {
            scale = new float[cols];
            for (int i = 0; i < cols; i++) scale[i] = 0.5f + rnd.nextFloat();
        }
        QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(f, gaussian(rnd, rows * cols, 0.05), rows, cols, shape[2]), scale, arena);
        String label = f.name() + (shape[2] < 0 ? " per-channel" : " g" + shape[2]) + (scale != null ? " scaled" : "") + " " + rows + "x" + cols
                + (shape[4] == 0 ? " one slab" : "");
        float[][] x = new float[4][], ref = new float[4][];
        for (int n : new int[] {1, 3}) {
            x[n] = gaussian(rnd, n * cols, 1);
            ref[n] = new float[n * rows];
            q.matmul(x[n], ref[n], n);
        }
        return new Case(label, shape[4], DeviceMatrix.upload(device, q), x, ref);
    }

    private void runCase(CudaMatMul mm, Case c, String kind) {
        CudaMatMul.PackedTuning t = tuning(kind, c.blocksPerSm());
        for (int n : batches(kind)) {
            long dx = upload(c.x()[n]), dy = device.alloc(4L * c.ref()[n].length);
            device.zero(dy, 4L * c.ref()[n].length);
            mm.setPackedTuning(t);
            try {
                mm.gemv(c.w(), dx, dy, n);
            } finally {
                mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
            }
            compare(c.label() + " n=" + n + " [" + kernelName(t, c.w(), n) + "]", c.ref()[n], download(dy, c.ref()[n].length), CudaCheck.FP32_GEMV);
            device.free(dx);
            device.free(dy);
        }
    }

    /** The kernel that ran: the variant's, or the default's with the reason. */
    static String kernelName(CudaMatMul.PackedTuning t, DeviceMatrix w, int n) {
        if (t.asyncStages() > 0 && n == 1) return "gemv_async_1";
        String k = CudaMatMul.variantKernel(t, w, n);
        if (k != null) return k;
        String staged = "gemv_staged_" + (n == 1 ? 1 : 4);
        if (t.variant() != CudaMatMul.Variant.WIDE && t.variant() != CudaMatMul.Variant.BULK && n > 1) return staged;
        if (t.variant() == CudaMatMul.Variant.TC && !CudaMatMul.tensorCoreShape(w)) {
            return staged + ", not 4-bit INT codes in groups of whole 128-column steps";
        }
        if (t.variant() == CudaMatMul.Variant.PERSIST || t.variant() == CudaMatMul.Variant.TC) {
            return staged + ", a row's activations and the rings exceed the shared memory";
        }
        if (!CudaMatMul.bulkRowsAligned(w.cols(), w.packed().bits())) {
            return staged + ", rows of " + (w.cols() + 31) / 32 * 4 * w.packed().bits() + " bytes: no bulk copies";
        }
        return staged + ", a row's activations and the rings exceed the shared memory";
    }

    /** y += W·x through a kind's kernels (the o_proj / down_proj residual add) against the CPU's y + W·x. */
    private void accumulateRows(CudaMatMul mm, String kind) {
        int rows = 1024, cols = 4096;
        Random rnd = new Random(77);
        CudaMatMul.PackedTuning t = tuning(kind, 2);
        try (Arena arena = Arena.ofShared()) {
            QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName("int4-asym"), gaussian(rnd, rows * cols, 0.05), rows,
                    cols, 128), null, arena);
            DeviceMatrix dw = DeviceMatrix.upload(device, q);
            for (int n : batches(kind)) {
                float[] x = gaussian(rnd, n * cols, 1), y0 = gaussian(rnd, n * rows, 1);
                float[] ref = new float[n * rows];
                q.matmul(x, ref, n);
                for (int i = 0; i < ref.length; i++) ref[i] += y0[i];
                long dx = upload(x), dy = upload(y0), scratch = device.alloc(4L * ref.length);
                mm.setPackedTuning(t);
                try {
                    mm.matmulAdd(dw, dx, dy, n, scratch);
                } finally {
                    mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
                }
                compare("int4-asym g128 1024x4096 y += W x n=" + n + " [" + kernelName(t, dw, n) + ", accumulate]", ref, download(dy, ref.length),
                        CudaCheck.FP32_GEMV);
                device.free(dx);
                device.free(dy);
                device.free(scratch);
            }
            dw.free(device);
        }
    }

    private void compare(String name, float[] ref, float[] got, double tolerance) {
        sink.accept(CudaCheck.Row.compare("gemv variant", name, ref, got, tolerance, ""));
    }

    private static float[] gaussian(Random rnd, int count, double scale) {
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return v;
    }

    private long upload(float[] v) {
        return device.upload(v);
    }

    private float[] download(long p, int count) {
        return device.download(p, count);
    }
}
