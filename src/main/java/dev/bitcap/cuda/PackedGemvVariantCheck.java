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
 * Check rows of the opt-in packed decode kernels (gemv_wide_1/4, gemv_bulk_1/4, gemv_async_1; see
 * {@link CudaMatMul.Variant}) against the CPU kernels, with the tolerance of the default packed GEMV rows: every
 * registered format at odd shapes (a partial unit, an input scale, one group per row, several column slabs, and a
 * slab of 8 steps per warp so that the bulk ring wraps twice), n = 1 and 3, and the fused residual add
 * (matmulAdd) of wide and bulk. Rows run kind by kind, bulk last (see {@link #KINDS}); each (format, shape) draws the
 * same matrix for every kind. A row's name says which kernel ran: where a variant does not cover a shape (bulk
 * copies need rows of a multiple of 16 bytes) the default staged kernel runs and the row says so.
 */
final class PackedGemvVariantCheck {
    private final CudaDevice device;
    private final Consumer<CudaCheck.Row> sink;

    PackedGemvVariantCheck(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        this.device = device;
        this.sink = sink;
    }

    /** The kinds of variant, in the order their rows run (bulk last: a fault in it ends the check after the others). */
    static final List<String> KINDS = List.of("wide", "async", "bulk");

    /** A kind's setting under check, with the kernel's own defaults (wide and bulk share one module per format). */
    static CudaMatMul.PackedTuning tuning(String kind, int blocksPerSm) {
        return switch (kind) {
            case "wide" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.WIDE, 0, 0, blocksPerSm);
            case "bulk" -> CudaMatMul.PackedTuning.of(CudaMatMul.Variant.BULK, 0, 0, blocksPerSm);
            case "async" -> new CudaMatMul.PackedTuning(true, 0, blocksPerSm, 4); // gemv_async_1, in the default module
            default -> throw new dev.bitcap.BitcapException("unknown GEMV variant '" + kind + "' (variants: " + String.join(", ", KINDS) + ")");
        };
    }

    /** A one-line error naming the kinds when one of {@code kinds} is not one of them. */
    static void requireKinds(java.util.Collection<String> kinds) {
        for (String k : kinds) tuning(k, 2);
    }

    /** The rows of the given kinds (see {@link #KINDS}). */
    void run(java.util.Collection<String> kinds) {
        requireKinds(kinds);
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        // {rows, cols, group size (-1 per channel), with input scale, blocks per SM (0: one slab per row)}
        int[][] shapes = {{1024, 4096, 128, 0, 2}, {77, 172, 32, 1, 2}, {300, 96, -1, 0, 2}, {200, 2100, 64, 1, 2}, {40, 8192, 128, 0, 0}};
        for (String kind : KINDS) {
            if (!kinds.contains(kind)) continue;
            List<QuantFormat> formats = QuantFormats.all();
            for (int fi = 0; fi < formats.size(); fi++) {
                for (int si = 0; si < shapes.length; si++) {
                    try {
                        formatShape(mm, formats.get(fi), shapes[si], kind, new Random(1000L * fi + si)); // the same matrices for every kind
                    } catch (RuntimeException e) {
                        sink.accept(new CudaCheck.Row("gemv variant", kind + " " + formats.get(fi).name() + " " + shapes[si][0] + "x" + shapes[si][1],
                                Double.NaN, Double.NaN, 0, false, e.toString()));
                    }
                }
            }
            if (kind.equals("async")) continue; // n = 1 only, no accumulate module of its own
            try {
                accumulateRows(mm, tuning(kind, 2));
            } catch (RuntimeException e) {
                sink.accept(new CudaCheck.Row("gemv variant", kind + " matmulAdd", Double.NaN, Double.NaN, 0, false, e.toString()));
            }
        }
    }

    private void formatShape(CudaMatMul mm, QuantFormat f, int[] shape, String kind, Random rnd) {
        int rows = shape[0], cols = shape[1];
        float[] scale = null;
        if (shape[3] == 1) {
            scale = new float[cols];
            for (int i = 0; i < cols; i++) scale[i] = 0.5f + rnd.nextFloat();
        }
        try (Arena arena = Arena.ofShared()) {
            QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(f, gaussian(rnd, rows * cols, 0.05), rows, cols, shape[2]), scale, arena);
            DeviceMatrix dw = DeviceMatrix.upload(device, q);
            String label = f.name() + (shape[2] < 0 ? " per-channel" : " g" + shape[2]) + (scale != null ? " scaled" : "") + " " + rows + "x" + cols
                    + (shape[4] == 0 ? " one slab" : "");
            CudaMatMul.PackedTuning t = tuning(kind, shape[4]);
            for (int n : kind.equals("async") ? new int[] {1} : new int[] {1, 3}) {
                float[] x = gaussian(rnd, n * cols, 1);
                float[] ref = new float[n * rows];
                q.matmul(x, ref, n);
                long dx = upload(x), dy = device.alloc(4L * ref.length);
                mm.setPackedTuning(t);
                device.zero(dy, 4L * ref.length);
                mm.gemv(dw, dx, dy, n);
                mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
                compare(label + " n=" + n + " [" + kernelName(t, dw, n) + "]", ref, download(dy, ref.length), CudaCheck.FP32_GEMV);
                device.free(dx);
                device.free(dy);
            }
            dw.free(device);
        }
    }

    /** The kernel that ran: the variant's, or the default's with the reason. */
    static String kernelName(CudaMatMul.PackedTuning t, DeviceMatrix w, int n) {
        if (t.asyncStages() > 0 && n == 1) return "gemv_async_1";
        String k = CudaMatMul.variantKernel(t, w, n);
        if (k != null) return k;
        return "gemv_staged_" + (n == 1 ? 1 : 4) + ", rows of " + (w.cols() + 31) / 32 * 4 * w.packed().bits() + " bytes: no bulk copies";
    }

    /** y += W·x through a variant (the o_proj / down_proj residual add) against the CPU's y + W·x. */
    private void accumulateRows(CudaMatMul mm, CudaMatMul.PackedTuning t) {
        int rows = 1024, cols = 4096;
        Random rnd = new Random(77);
        try (Arena arena = Arena.ofShared()) {
            QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName("int4-asym"), gaussian(rnd, rows * cols, 0.05), rows,
                    cols, 128), null, arena);
            DeviceMatrix dw = DeviceMatrix.upload(device, q);
            for (int n : new int[] {1, 3}) {
                float[] x = gaussian(rnd, n * cols, 1), y0 = gaussian(rnd, n * rows, 1);
                float[] ref = new float[n * rows];
                q.matmul(x, ref, n);
                for (int i = 0; i < ref.length; i++) ref[i] += y0[i];
                long dx = upload(x), dy = upload(y0), scratch = device.alloc(4L * ref.length);
                mm.setPackedTuning(t);
                mm.matmulAdd(dw, dx, dy, n, scratch);
                mm.setPackedTuning(CudaMatMul.PackedTuning.DEFAULT);
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
        double abs = 0, mag = 0;
        boolean finite = ref.length == got.length;
        for (int i = 0; finite && i < ref.length; i++) {
            if (!Float.isFinite(got[i])) finite = false;
            abs = Math.max(abs, Math.abs((double) got[i] - ref[i]));
            mag = Math.max(mag, Math.abs(ref[i]));
        }
        double rel = mag == 0 ? abs : abs / mag;
        sink.accept(new CudaCheck.Row("gemv variant", name, abs, rel, tolerance, finite && rel <= tolerance, finite ? "" : "non-finite or missing output"));
    }

    private static float[] gaussian(Random rnd, int count, double scale) {
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return v;
    }

    private long upload(float[] v) {
        long p = device.alloc(4L * Math.max(1, v.length));
        device.upload(p, v, 0, v.length);
        return p;
    }

    private float[] download(long p, int count) {
        float[] v = new float[count];
        device.download(v, 0, p, count);
        return v;
    }
}
