package dev.bitcap.cuda;

import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Check rows of the decode-step kernels against what they replace: rmsnorm_vec4 against the CPU rmsnorm, the GEMVs'
 * accumulate mode (y += W x) against matmul then add (bit for bit), rope_append against rope, rope and kv_append, and
 * attend_gqa (query heads of one KV head per block) against causal attention in double on the CPU and against attend.
 * argmax_rows (greedy decode's token choice) against Ops.argmax, index for index. The whole-model rows of
 * {@link CudaCheck} (fixture logits, stories260K greedy with and without graphs) run them too.
 */
final class DecodeStepCheck {
    private final CudaDevice device;
    private final Consumer<CudaCheck.Row> sink;
    private final Random rnd = new Random(23);

    DecodeStepCheck(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        this.device = device;
        this.sink = sink;
    }

    void run() {
        CudaOps ops = new CudaOps(device);
        section("rmsnorm", () -> rmsnormRows(ops));
        section("GEMV accumulate", () -> accumulateRows(ops));
        section("rope_append", () -> ropeAppendRows(ops));
        section("decode attention", this::attentionRows);
        section("argmax_rows", () -> argmaxRows(ops));
    }

    /** A section that throws reports one failed row instead of ending the check. */
    private void section(String name, Runnable rows) {
        try {
            rows.run();
        } catch (RuntimeException e) {
            sink.accept(new CudaCheck.Row("decode step", name, Double.NaN, Double.NaN, 0, false, e.toString()));
        }
    }

    private void compare(String name, float[] ref, float[] got, double tolerance, String note) {
        sink.accept(CudaCheck.Row.compare("decode step", name, ref, got, tolerance, note));
    }

    private float[] gaussian(int count, double scale) {
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

    // ---- rmsnorm ---------------------------------------------------------------------------------------------

    /**
     * fp32 sums of squares in another order than the CPU's vector lanes: relative error of the norm far under 1e-5.
     * Widths: a Llama hidden size, a head (q/k norm), 8192, 20480 (past the four float4s a thread holds), 1000 (a
     * partial last warp), 1002 (not a multiple of 4: the dispatch takes the scalar kernel); picked rows (the final norm),
     * and in place.
     */
    private void rmsnormRows(CudaOps ops) {
        float eps = 1e-5f;
        for (int[] shape : new int[][] {{1, 4096}, {3, 4096}, {40, 128}, {2, 8192}, {2, 20480}, {3, 1000}, {2, 1002}}) {
            int rows = shape[0], d = shape[1];
            float[] x = gaussian(rows * d, 2.0), w = gaussian(d, 1.0);
            float[] ref = new float[rows * d];
            for (int r = 0; r < rows; r++) Ops.rmsnorm(ref, r * d, x, r * d, w, d, eps);
            long dx = upload(x), dw = upload(w), dout = device.alloc(4L * ref.length);
            String shapeName = rows + "x" + d;
            if (d % 4 == 0) {
                ops.rmsnormVec4(dx, dw, dout, rows, d, eps, 0);
                compare("rmsnorm_vec4 " + shapeName + " vs cpu", ref, download(dout, ref.length), CudaCheck.FP32_GEMV, "");
            }
            ops.rmsnorm(dx, dw, dx, rows, d, eps, 0);
            compare("rmsnorm (dispatch) in place " + shapeName + " vs cpu", ref, download(dx, ref.length), CudaCheck.FP32_GEMV, "");
            device.free(dx);
            device.free(dw);
            device.free(dout);
        }
        // picked rows: out[r] = rmsnorm(x[inRows[r]])
        int rows = 5, d = 2048;
        int[] picked = {4, 0, 2};
        float[] x = gaussian(rows * d, 1.0), w = gaussian(d, 1.0);
        float[] ref = new float[picked.length * d];
        for (int r = 0; r < picked.length; r++) Ops.rmsnorm(ref, r * d, x, picked[r] * d, w, d, eps);
        long dx = upload(x), dw = upload(w), dout = device.alloc(4L * ref.length), dRows = device.alloc(4L * picked.length);
        device.upload(dRows, picked, 0, picked.length);
        ops.rmsnorm(dx, dw, dout, picked.length, d, eps, dRows);
        compare("rmsnorm_vec4 of picked rows 3 of 5 x2048 vs cpu", ref, download(dout, ref.length), CudaCheck.FP32_GEMV, "");
        for (long p : new long[] {dx, dw, dout, dRows}) device.free(p);
    }

    // ---- GEMV accumulate mode --------------------------------------------------------------------------------

    /**
     * matmulAdd against matmul into a scratch then add, for every GEMV family (dense F32 / BF16, staged Q8_0 / Q4_0,
     * the generic Q8_0 kernel, packed int4-asym over one and several column slabs, binary) and the cuBLAS path: the same
     * float additions in the same order, so the results must be equal bit for bit (tolerance 0).
     */
    private void accumulateRows(CudaOps ops) {
        CudaMatMul mm = new CudaMatMul(device, ops);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.F32, DType.BF16, DType.Q8_0, DType.Q4_0}) {
                accumulateCase(mm, ops, CudaCheck.randomMatrix(arena, type, 1024, 4096, rnd), type + " 1024x4096", new int[] {1, 3, 5, 16});
            }
            accumulateCase(mm, ops, CudaCheck.randomMatrix(arena, DType.Q8_0, 300, 96, rnd), "Q8_0 300x96 (generic gemv)", new int[] {1, 3});
            for (int[] shape : new int[][] {{1024, 4096, 128}, {200, 2100, 64}}) {
                float[] wv = gaussian(shape[0] * shape[1], 0.05);
                QuantizedTensor q = QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName("int4-asym"), wv, shape[0], shape[1], shape[2]),
                        null, arena);
                accumulateCase(mm, ops, q, "int4-asym g" + shape[2] + " " + shape[0] + "x" + shape[1], new int[] {1, 3, 5, 16});
            }
            BinaryTensor b = BinaryTensor.pack(CudaCheck.randomBinary(rnd, 300, 512, 4, 3), arena);
            accumulateCase(mm, ops, b, b.storage() + " 300x512", new int[] {1, 5});
        }
    }

    private void accumulateCase(CudaMatMul mm, CudaOps ops, WeightMatrix w, String label, int[] ns) {
        DeviceMatrix dw = DeviceMatrix.upload(device, w);
        int rows = dw.rows(), cols = dw.cols();
        for (int n : ns) {
            float[] x = gaussian(n * cols, 1.0), residual = gaussian(n * rows, 1.0);
            long dx = upload(x), dRef = upload(residual), dGot = upload(residual), scratch = device.alloc(4L * n * rows);
            mm.matmul(dw, dx, scratch, n);
            ops.add(dRef, scratch, (long) n * rows);
            device.zero(scratch, 4L * n * rows);
            mm.matmulAdd(dw, dx, dGot, n, scratch);
            boolean cublas = n >= CudaMatMul.CUBLAS_MIN_ROWS && (dw.type().isFloat() || dw.packed() != null || dw.binary() != null);
            String path = cublas ? "cublas" : "gemv";
            compare("matmulAdd " + label + " n=" + n + " (" + path + ") vs matmul + add", download(dRef, n * rows), download(dGot, n * rows), 0,
                    "bit for bit");
            for (long p : new long[] {dx, dRef, dGot, scratch}) device.free(p);
        }
        dw.free(device);
    }

    // ---- rope + kv_append ------------------------------------------------------------------------------------

    /**
     * rope_append against rope (q), rope (k) and kv_append: q, k and both caches after each, for both RoPE styles,
     * with the append and without (paged caches). The same expressions in two kernels; the 1e-6 allows NVRTC to
     * contract x0·c - x1·s into an fma in one and not the other (one rounding of a product of values below ~10).
     */
    private void ropeAppendRows(CudaOps ops) {
        int n = 3, heads = 8, kvHeads = 2, hd = 64, layers = 3, layer = 1, capacity = 40;
        int qDim = heads * hd, kvDim = kvHeads * hd;
        int[] positions = {0, 17, 39};
        float[] invFreq = new float[hd / 2];
        for (int j = 0; j < invFreq.length; j++) invFreq[j] = (float) Math.pow(10000.0, -2.0 * j / hd);
        long dFreq = upload(invFreq), dPos = device.alloc(4L * n);
        device.upload(dPos, positions, 0, n);
        for (boolean rotateHalf : new boolean[] {false, true}) {
            for (boolean append : new boolean[] {true, false}) {
                float[] q = gaussian(n * qDim, 1.0), k = gaussian(n * kvDim, 1.0), v = gaussian(n * kvDim, 1.0);
                int cacheFloats = capacity * layers * kvDim;
                // two sequences: tokens 0 and 2 share one cache, token 1 has its own
                long[] caches = new long[8];
                for (int i = 0; i < caches.length; i++) {
                    caches[i] = device.alloc(4L * cacheFloats);
                    device.zero(caches[i], 4L * cacheFloats);
                }
                long[][] bases = {{caches[0], caches[1], caches[0]}, {caches[2], caches[3], caches[2]}, // reference k, v
                        {caches[4], caches[5], caches[4]}, {caches[6], caches[7], caches[6]}}; // fused k, v
                long[] dBase = new long[4];
                for (int i = 0; i < 4; i++) {
                    dBase[i] = device.alloc(8L * n);
                    device.upload(dBase[i], bases[i]);
                }
                long rq = upload(q), rk = upload(k), fq = upload(q), fk = upload(k), dv = upload(v);
                ops.rope(rq, dPos, dFreq, n, heads, hd, qDim, rotateHalf);
                ops.rope(rk, dPos, dFreq, n, kvHeads, hd, kvDim, rotateHalf);
                if (append) ops.kvAppend(rk, dv, dBase[0], dBase[1], dPos, n, kvDim, layers, layer);
                ops.ropeAppend(fq, fk, dv, dPos, dFreq, n, heads, kvHeads, hd, rotateHalf, append ? dBase[2] : 0, append ? dBase[3] : 0, layers, layer);
                String label = "rope_append " + (rotateHalf ? "rotate-half" : "interleaved") + (append ? "" : " (no append)");
                compare(label + " q vs rope", download(rq, n * qDim), download(fq, n * qDim), 1e-6, "");
                compare(label + " k vs rope", download(rk, n * kvDim), download(fk, n * kvDim), 1e-6, "");
                if (append) {
                    float[] refCache = concat(download(caches[0], cacheFloats), download(caches[1], cacheFloats),
                            download(caches[2], cacheFloats), download(caches[3], cacheFloats));
                    float[] gotCache = concat(download(caches[4], cacheFloats), download(caches[5], cacheFloats),
                            download(caches[6], cacheFloats), download(caches[7], cacheFloats));
                    compare(label + " key and value caches vs rope + kv_append", refCache, gotCache, 1e-6, "");
                } else {
                    float[] untouched = download(caches[6], cacheFloats);
                    compare(label + " leaves the caches alone", new float[cacheFloats], untouched, 0, "");
                }
                for (long p : caches) device.free(p);
                for (long p : dBase) device.free(p);
                for (long p : new long[] {rq, rk, fq, fk, dv}) device.free(p);
            }
        }
        device.free(dFreq);
        device.free(dPos);
    }

    private static float[] concat(float[]... parts) {
        int total = 0;
        for (float[] p : parts) total += p.length;
        float[] out = new float[total];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    // ---- argmax_rows -----------------------------------------------------------------------------------------------

    /**
     * argmax_rows against Ops.argmax: the same index for every row. Random rows of widths 1, 7 (rows off 16-byte
     * alignment), 1000 (a partial last warp), 32000 and 128256 (Llama 2 and 3 vocabularies: many loads per thread); the
     * maximum repeated within one thread's slice, one warp, across warps, at index 0 and at the last index; -inf entries
     * and a row of -inf; all-equal rows; -0 against +0 (equal: the first wins); NaNs (passed over, but index 0 when
     * first). 1024 threads a row of 32000: indices 17, 1041 and 8209 are one thread's, 33, 40 and 63 one warp's.
     */
    private void argmaxRows(CudaOps ops) {
        for (int width : new int[] {1, 7, 1000, 32000, 128256}) argmaxCase(ops, "random 4x" + width, width, gaussian(4 * width, 3.0));
        int w = 32000;
        float[] ties = gaussian(5 * w, 1.0);
        int[][] tied = {{31999, 8209, 5000, 1041, 17}, {63, 40, 33}, {31999, 20000, 9000}, {31999, 0}, {31999, 31998}};
        for (int r = 0; r < tied.length; r++) for (int i : tied[r]) ties[r * w + i] = 9f;
        argmaxCase(ops, "ties 5x32000 (max repeated in a thread, a warp, across warps, at 0, at the end)", w, ties);
        float[] wide = gaussian(128256, 1.0);
        for (int i : new int[] {128255, 70000, 65537}) wide[i] = 9f;
        argmaxCase(ops, "ties 1x128256", 128256, wide);
        int n = 1000;
        float[] inf = gaussian(3 * n, 1.0);
        for (int i = 0; i < n; i += 3) inf[i] = Float.NEGATIVE_INFINITY; // a third of row 0
        Arrays.fill(inf, n, 3 * n, Float.NEGATIVE_INFINITY); // row 1 all -inf
        inf[2 * n + 999] = -5f; // row 2: -inf but its last entry
        argmaxCase(ops, "-inf entries 3x1000 (a third -inf, all -inf, all -inf but the last)", n, inf);
        float[] equal = new float[2 * w];
        Arrays.fill(equal, 0, w, 0.25f);
        Arrays.fill(equal, w, 2 * w, -3f);
        argmaxCase(ops, "all equal 2x32000", w, equal);
        argmaxCase(ops, "all equal 1x7", 7, new float[] {1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f});
        float[] zeros = new float[2 * n];
        for (int i = 0; i < zeros.length; i++) zeros[i] = -1f - rnd.nextFloat();
        zeros[300] = -0f;
        zeros[200] = 0f;
        zeros[n + 100] = -0f;
        zeros[n + 500] = 0f;
        argmaxCase(ops, "-0 and +0 2x1000", n, zeros);
        float[] nan = gaussian(3 * n, 1.0);
        nan[0] = Float.NaN; // row 0: NaN first
        for (int i = n; i < 2 * n; i += 7) nan[i + 3] = Float.NaN; // row 1: NaNs scattered
        Arrays.fill(nan, 2 * n, 3 * n, Float.NaN); // row 2: all NaN
        argmaxCase(ops, "NaN 3x1000 (NaN first, NaNs scattered, all NaN)", n, nan);
    }

    /** argmax_rows over {@code v} as rows of {@code width}, in one launch, against Ops.argmax of each row. */
    private void argmaxCase(CudaOps ops, String label, int width, float[] v) {
        int rows = v.length / width;
        long dv = upload(v), out = device.alloc(4L * rows);
        ops.argmaxRows(dv, rows, width, out);
        int[] got = new int[rows];
        device.download(got, 0, out, rows);
        sink.accept(CudaCheck.Row.same("decode step", "argmax_rows " + label + " vs Ops.argmax", Ops.argmaxRows(v, rows), got, "row"));
        device.free(dv);
        device.free(out);
    }

    // ---- decode attention ------------------------------------------------------------------------------------

    /**
     * attend_gqa against causal attention in double and against attend: {heads, kvHeads, headDim} with groups of 4
     * (Llama 3), 1, 6, 8, 4 and 12 (over GQA_MAX: attend), head dims 16..256; three query tokens at positions 0, 37 and 700 of their own caches
     * (one range, several, some empty), the split count fixed by a capacity of 1024 (as a captured graph) and by the
     * pass's own longest context. fp32 sums of up to 701 terms in another order: relative error far under 1e-5.
     */
    private void attentionRows() {
        int[][] configs = {{32, 8, 128}, {8, 8, 64}, {12, 2, 64}, {16, 2, 256}, {4, 1, 16}, {12, 1, 64}};
        int[] positions = {0, 37, 700};
        int layers = 2, layer = 1, capacity = 1024;
        for (int[] cfg : configs) {
            int heads = cfg[0], kvHeads = cfg[1], hd = cfg[2], n = positions.length;
            int qDim = heads * hd, kvDim = kvHeads * hd;
            CudaAttention attention = new CudaAttention(device, heads, kvHeads, hd, layers);
            float[] q = gaussian(n * qDim, 1.0);
            float[][] kc = new float[n][], vc = new float[n][];
            long[] kPtr = new long[n], vPtr = new long[n];
            for (int t = 0; t < n; t++) {
                kc[t] = gaussian(capacity * layers * kvDim, 1.0);
                vc[t] = gaussian(capacity * layers * kvDim, 1.0);
                kPtr[t] = upload(kc[t]);
                vPtr[t] = upload(vc[t]);
            }
            float[] ref = reference(q, kc, vc, positions, heads, kvHeads, hd, layers, layer);
            long dq = upload(q), dPos = device.alloc(4L * n), dk = device.alloc(8L * n), dvb = device.alloc(8L * n), out = device.alloc(4L * n * qDim);
            device.upload(dPos, positions, 0, n);
            device.upload(dk, kPtr);
            device.upload(dvb, vPtr);
            String shape = heads + "/" + kvHeads + " heads, dim " + hd;
            String kernel = attention.groupsHeads() ? "attend_gqa" : "attend (group over " + CudaAttention.GQA_MAX + ")";
            for (int maxLength : new int[] {capacity, positions[n - 1] + 1}) {
                device.zero(out, 4L * n * qDim);
                attention.run(dq, dk, dvb, dPos, out, n, maxLength, layer);
                float[] got = download(out, n * qDim);
                compare(kernel + " " + shape + ", split for " + maxLength + " vs cpu (double)", ref, got, CudaCheck.FP32_GEMV, "");
            }
            device.zero(out, 4L * n * qDim);
            attention.runPerHead(dq, dk, dvb, dPos, out, n, capacity, layer);
            compare("attend " + shape + " vs cpu (double)", ref, download(out, n * qDim), CudaCheck.FP32_GEMV, "");
            for (long p : kPtr) device.free(p);
            for (long p : vPtr) device.free(p);
            for (long p : new long[] {dq, dPos, dk, dvb, out}) device.free(p);
        }
    }

    /** out [n, heads*hd]: token t, head h attends positions 0..pos[t] of its caches ([position][layer][kvDim]). */
    private static float[] reference(float[] q, float[][] kc, float[][] vc, int[] pos, int heads, int kvHeads, int hd, int layers, int layer) {
        int n = pos.length, kvDim = kvHeads * hd, group = heads / kvHeads;
        float[] out = new float[n * heads * hd];
        double scale = 1.0 / Math.sqrt(hd);
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int kvh = h / group, len = pos[t] + 1;
                double[] w = new double[len];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < len; p++) {
                    int base = (p * layers + layer) * kvDim + kvh * hd;
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += (double) q[(t * heads + h) * hd + d] * kc[t][base + d];
                    w[p] = dot * scale;
                    max = Math.max(max, w[p]);
                }
                double sum = 0;
                for (int p = 0; p < len; p++) sum += w[p] = Math.exp(w[p] - max);
                for (int d = 0; d < hd; d++) {
                    double a = 0;
                    for (int p = 0; p < len; p++) a += w[p] * vc[t][(p * layers + layer) * kvDim + kvh * hd + d];
                    out[(t * heads + h) * hd + d] = (float) (a / sum);
                }
            }
        }
        return out;
    }
}
