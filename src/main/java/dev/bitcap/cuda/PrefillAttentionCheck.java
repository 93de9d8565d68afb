package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.cuda.CudaSeerGate.Picker;
import dev.bitcap.cuda.CudaSparseAttention.Kernel;
import dev.bitcap.tensor.Halfs;
import dev.bitcap.tensor.RopeStyle;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Check rows of the tensor-core prefill attention and the GPU gate: the dense kernel against causal attention in
 * double on the same fp16/bf16-rounded inputs; the block-sparse kernel against a reference that attends over
 * exactly the blocks of its lists (hand-made lists with empty rows and any order, and the GPU gate's lists under a
 * density and a threshold); the gate's density-1 lists against the dense kernel; and the GPU gate's chosen blocks
 * against {@link SeerGate} and {@link BlockSelection} on the CPU. Every row runs for each {@link Kernel}, and the gate
 * rows for each {@link Picker}, whose choices are also compared with each other.
 */
public final class PrefillAttentionCheck {
    private final CudaDevice device;
    private final Consumer<CudaCheck.Row> sink;
    private final Random rnd = new Random(11);

    public PrefillAttentionCheck(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        this.device = device;
        this.sink = sink;
    }

    /**
     * Error bound of the kernel over max |v|: the softmax weights are rounded to the input type before they multiply
     * V (unit roundoff u = 2^-11 for fp16, 2^-8 for bf16), which moves a normalised sum of values by at most
     * u max |v|; the 1e-4 covers fp32 accumulation of the 64..128-term scores (relative 1e-5 of sum |q k| of order
     * 10) and ex2.approx. Q, K and V are rounded before the reference sees them, so input rounding costs nothing.
     */
    static double tolerance(boolean bf16) {
        return (bf16 ? 0x1p-8 : 0x1p-11) + 1e-4;
    }

    /** One problem: rounded inputs (as floats, [len][heads][d]) and their device copies. */
    private final class Problem implements AutoCloseable {
        final int len, heads, kvHeads, d;
        final boolean bf16;
        final float[] q, k, v;
        final long dq, dk, dv, dout;
        final double maxV;

        Problem(int len, int heads, int kvHeads, int d, boolean bf16) {
            this.len = len;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.d = d;
            this.bf16 = bf16;
            q = random(len * heads * d);
            k = random(len * kvHeads * d);
            v = random(len * kvHeads * d);
            double mv = 0;
            for (float x : v) mv = Math.max(mv, Math.abs(x));
            maxV = mv;
            dq = upload(q);
            dk = upload(k);
            dv = upload(v);
            dout = device.alloc(4L * len * heads * d);
        }

        private float[] random(int n) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                float f = (float) rnd.nextGaussian();
                x[i] = bf16 ? Halfs.bf16ToF32(Halfs.f32ToBf16(f)) : Float.float16ToFloat(Float.floatToFloat16(f));
            }
            return x;
        }

        private long upload(float[] x) {
            long p = device.alloc(2L * x.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(2L * x.length, 16);
                for (int i = 0; i < x.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, bf16 ? Halfs.f32ToBf16(x[i]) : Float.floatToFloat16(x[i]));
                device.upload(p, s);
                device.synchronize();
            }
            return p;
        }

        String label() {
            return (bf16 ? "bf16" : "f16") + " d" + d + " L=" + len + " " + heads + "/" + kvHeads + "h";
        }

        float[] run(CudaSparseAttention att, long counts, long lists) {
            device.zero(dout, 4L * len * heads * d);
            att.prefill(dq, dk, dv, dout, counts, lists, len, heads, kvHeads, (long) heads * d, (long) kvHeads * d, (long) heads * d);
            float[] out = new float[len * heads * d];
            device.download(out, 0, dout, out.length);
            return out;
        }

        /** Causal attention in double over the key blocks of lists[h][qb] (null: all causal blocks). */
        float[] reference(int[][][] lists) {
            float[] out = new float[len * heads * d];
            double scale = 1 / Math.sqrt(d);
            int group = heads / kvHeads, block = CudaSparseAttention.BLOCK;
            double[] s = new double[len];
            for (int h = 0; h < heads; h++) {
                int g = h / group;
                for (int t = 0; t < len; t++) {
                    int qb = t / block;
                    boolean[] use = new boolean[qb + 1];
                    if (lists == null) Arrays.fill(use, true);
                    else for (int b : lists[h][qb]) use[b] = true;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        if (!use[j / block]) continue;
                        double dot = 0;
                        for (int c = 0; c < d; c++) dot += (double) q[(t * heads + h) * d + c] * k[(j * kvHeads + g) * d + c];
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) continue; // nothing visited: zeros
                    double sum = 0;
                    double[] acc = new double[d];
                    for (int j = 0; j <= t; j++) {
                        if (!use[j / block]) continue;
                        double e = Math.exp(s[j] - max);
                        sum += e;
                        for (int c = 0; c < d; c++) acc[c] += e * v[(j * kvHeads + g) * d + c];
                    }
                    for (int c = 0; c < d; c++) out[(t * heads + h) * d + c] = (float) (acc[c] / sum);
                }
            }
            return out;
        }

        @Override
        public void close() {
            device.free(dq);
            device.free(dk);
            device.free(dv);
            device.free(dout);
        }
    }

    private void add(String name, float[] ref, float[] got, double scale, double tolerance, String note) {
        double abs = 0;
        boolean finite = true;
        for (int i = 0; i < ref.length; i++) {
            if (!Float.isFinite(got[i])) finite = false;
            abs = Math.max(abs, Math.abs((double) got[i] - ref[i]));
        }
        double rel = abs / scale;
        sink.accept(new CudaCheck.Row("prefill-att", name, abs, rel, tolerance, finite && rel <= tolerance, finite ? note : "non-finite output"));
    }

    /** Runs every row, printing each to {@code sink}; returns them. */
    public static List<CudaCheck.Row> rows(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        List<CudaCheck.Row> rows = new ArrayList<>();
        new PrefillAttentionCheck(device, r -> {
            rows.add(r);
            sink.accept(r);
        }).run();
        return rows;
    }

    /** Every row: the defaults, then the same rows for each other kernel and the other picker. */
    public void run() {
        run(true);
    }

    /**
     * The rows of the defaults ({@link Kernel#DEFAULT}, {@link Picker#DEFAULT}), and with {@code others} also those of
     * the other kernels and picker, which the full check leaves to {@code --prefill-only}.
     */
    public void run(boolean others) {
        for (Kernel kernel : others ? Kernel.values() : new Kernel[] {Kernel.DEFAULT}) {
            dense(200, 4, 2, 64, false, kernel);
            dense(333, 8, 2, 128, true, kernel);
            dense(1024, 2, 2, 128, false, kernel);
            handLists(300, 4, 1, 128, false, kernel);
            handLists(257, 4, 4, 64, true, kernel);
        }
        gated(2048, 4, 2, 128, true, BlockSelection.density(0.3), Picker.DEFAULT, Kernel.DEFAULT);
        gated(1100, 4, 1, 64, false, BlockSelection.threshold(0.02), Picker.DEFAULT, Kernel.DEFAULT);
        gated(1500, 4, 2, 128, false, BlockSelection.density(1.0), Picker.DEFAULT, Kernel.DEFAULT);
        // Longer rows (256 blocks, several radix passes with many keys per digit) for the default picker.
        gated(16384, 8, 2, 128, true, BlockSelection.density(0.1), Picker.DEFAULT, null);
        gated(12000, 4, 4, 64, false, BlockSelection.threshold(0.005), Picker.DEFAULT, null);
        if (!others) return;
        gated(2048, 4, 2, 128, true, BlockSelection.density(0.3), Picker.SORT, Kernel.BASE);
        gated(1100, 4, 1, 64, false, BlockSelection.threshold(0.02), Picker.SORT, Kernel.WIDE);
        gated(1500, 4, 2, 128, false, BlockSelection.density(1.0), Picker.SORT, Kernel.BASE);
        gated(1500, 4, 2, 128, true, BlockSelection.density(1.0), Picker.RADIX, Kernel.WIDE);
        pickersAgree(16384, 8, 2, 128, true, List.of(BlockSelection.density(0.1), BlockSelection.density(0.5), BlockSelection.threshold(0.01)));
    }

    private static String tag(Kernel kernel) {
        return kernel == Kernel.DEFAULT ? "" : "[" + kernel.name().toLowerCase(java.util.Locale.ROOT) + "] ";
    }

    private void dense(int len, int heads, int kvHeads, int d, boolean bf16, Kernel kernel) {
        try (Problem p = new Problem(len, heads, kvHeads, d, bf16)) {
            CudaSparseAttention att = new CudaSparseAttention(device, d, bf16, kernel);
            add("dense " + tag(kernel) + p.label() + " vs fp64 causal", p.reference(null), p.run(att, 0, 0), p.maxV, tolerance(bf16),
                    "error over max|v|");
        }
    }

    /** Random subsets of each row's causal blocks in random order; about one row in five visits nothing. */
    private void handLists(int len, int heads, int kvHeads, int d, boolean bf16, Kernel kernel) {
        try (Problem p = new Problem(len, heads, kvHeads, d, bf16)) {
            int nb = CudaSparseAttention.blocks(len);
            int[][][] lists = new int[heads][nb][];
            int empty = 0;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nb; i++) {
                    List<Integer> chosen = new ArrayList<>();
                    if (rnd.nextInt(5) != 0) for (int b = 0; b <= i; b++) if (rnd.nextBoolean() || b == i) chosen.add(b);
                    if (chosen.isEmpty()) empty++;
                    java.util.Collections.shuffle(chosen, rnd);
                    lists[h][i] = chosen.stream().mapToInt(Integer::intValue).toArray();
                }
            }
            long[] buffers = uploadLists(lists, nb, heads);
            float[] got = p.run(new CudaSparseAttention(device, d, bf16, kernel), buffers[0], buffers[1]);
            add("hand lists " + tag(kernel) + p.label() + " vs masked fp64", p.reference(lists), got, p.maxV, tolerance(bf16),
                    empty + " of " + heads * nb + " rows empty");
            device.free(buffers[0]);
            device.free(buffers[1]);
        }
    }

    private long[] uploadLists(int[][][] lists, int nb, int heads) {
        int[] counts = new int[heads * nb];
        int[] flat = new int[(int) ((long) heads * nb * (nb + 1) / 2)];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < nb; i++) {
                counts[h * nb + i] = lists[h][i].length;
                System.arraycopy(lists[h][i], 0, flat, h * nb * (nb + 1) / 2 + i * (i + 1) / 2, lists[h][i].length);
            }
        }
        long c = device.alloc(4L * counts.length), l = device.alloc(4L * flat.length);
        device.upload(c, counts, 0, counts.length);
        device.upload(l, flat, 0, flat.length);
        return new long[] {c, l};
    }

    /** A gate with random weights rounded to fp32 (the GPU keeps fp32 weights: the CPU side uses the same values). */
    private static SeerGate checkGate(int heads, int kvHeads, int d) {
        int gateDim = 32, block = CudaSparseAttention.BLOCK;
        double[] invFreq = new double[gateDim / 2];
        for (int j = 0; j < invFreq.length; j++) invFreq[j] = Math.pow(10000, -2.0 * j / gateDim);
        SeerGate random = SeerGate.initialised(new SeerGate.Shape(1, heads, kvHeads, d, gateDim, block), invFreq, RopeStyle.ROTATE_HALF,
                "check", "check", 5);
        double[][] wq = {round(random.queryWeights(0))}, wk = {round(random.keyWeights(0))};
        return new SeerGate(random.shape(), invFreq, RopeStyle.ROTATE_HALF, "check", "check", wq, wk);
    }

    /** The GPU gate's lists per head and query block, as the kernel will read them (any order). */
    private int[][][] gpuLists(CudaSeerGate gpuGate, Problem p, BlockSelection selection, long counts, long lists) {
        int nb = CudaSparseAttention.blocks(p.len), heads = p.heads;
        device.zero(counts, 4L * heads * nb);
        gpuGate.select(0, p.dq, p.dk, p.len, (long) heads * p.d, (long) p.kvHeads * p.d, selection, counts, lists);
        int[] c = CudaSeerGate.downloadInts(device, counts, heads * nb);
        int[] flat = CudaSeerGate.downloadInts(device, lists, (int) CudaSparseAttention.listInts(p.len, heads));
        int[][][] out = new int[heads][nb][];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < nb; i++) {
                int at = h * nb * (nb + 1) / 2 + i * (i + 1) / 2;
                out[h][i] = Arrays.copyOfRange(flat, at, at + c[h * nb + i]);
            }
        }
        return out;
    }

    /**
     * The radix picker against the sort picker on the same device scores: both score in the same fp32 order and break
     * ties toward the later block, so under a density no row may differ. Under a threshold the softmax sums are
     * reduced in other orders (a warp against a block), so only a probability within an ulp of the threshold could
     * flip; a row that differs is still counted a failure, and the note says so.
     */
    private void pickersAgree(int len, int heads, int kvHeads, int d, boolean bf16, List<BlockSelection> selections) {
        SeerGate gate = checkGate(heads, kvHeads, d);
        try (Problem p = new Problem(len, heads, kvHeads, d, bf16)) {
            int nb = CudaSparseAttention.blocks(len);
            long counts = device.alloc(4L * heads * nb), lists = device.alloc(4L * CudaSparseAttention.listInts(len, heads));
            CudaSeerGate sortGate = new CudaSeerGate(device, gate, bf16, Picker.SORT), radixGate = new CudaSeerGate(device, gate, bf16, Picker.RADIX);
            for (BlockSelection selection : selections) {
                int[][][] sort = gpuLists(sortGate, p, selection, counts, lists);
                int[][][] radix = gpuLists(radixGate, p, selection, counts, lists);
                int differ = 0;
                long visited = 0;
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < nb; i++) {
                        int[] a = sort[h][i].clone(), b = radix[h][i].clone();
                        Arrays.sort(a);
                        Arrays.sort(b);
                        if (!Arrays.equals(a, b)) differ++;
                        visited += b.length;
                    }
                }
                sink.accept(new CudaCheck.Row("prefill-att", "gate radix vs sort picker " + selection + " " + p.label(), differ, (double) differ / (heads * nb),
                        0, differ == 0, differ + " of " + heads * nb + " rows differ" + (selection.byThreshold() ? " (threshold: sums in other orders)" : "")
                                + "; density reached " + String.format("%.3f", visited / (heads * (double) nb * (nb + 1) / 2))));
            }
            device.free(counts);
            device.free(lists);
        }
    }

    /**
     * The GPU gate's lists (picked by {@code picker}) against the CPU's; unless {@code kernel} is null, that kernel
     * over the lists against masked fp64.
     */
    private void gated(int len, int heads, int kvHeads, int d, boolean bf16, BlockSelection selection, Picker picker, Kernel kernel) {
        SeerGate gate = checkGate(heads, kvHeads, d);
        try (Problem p = new Problem(len, heads, kvHeads, d, bf16)) {
            int nb = CudaSparseAttention.blocks(len);
            CudaSeerGate gpuGate = new CudaSeerGate(device, gate, bf16, picker);
            long counts = device.alloc(4L * heads * nb), lists = device.alloc(4L * CudaSparseAttention.listInts(len, heads));
            int[][][] gpuLists = gpuLists(gpuGate, p, selection, counts, lists);
            long visited = 0, causal = 0;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nb; i++) {
                    visited += gpuLists[h][i].length;
                    causal += i + 1;
                }
            }
            String what = selection + " " + (picker == Picker.DEFAULT ? "" : "[" + picker.name().toLowerCase(java.util.Locale.ROOT) + "] ") + p.label();
            int[][][] cpuLists = cpuSelection(gate, p, selection);
            int differ = 0;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nb; i++) {
                    int[] a = gpuLists[h][i].clone();
                    Arrays.sort(a);
                    if (!Arrays.equals(a, cpuLists[h][i])) differ++;
                }
            }
            // fp32 scores (GPU) against double (CPU): only near-ties may rank differently; more than 1% of rows is a bug.
            double share = (double) differ / (heads * nb);
            sink.accept(new CudaCheck.Row("prefill-att", "gate blocks " + what + " vs cpu SeerGate", differ, share, 0.01, share <= 0.01,
                    differ + " of " + heads * nb + " rows differ; density reached " + String.format("%.3f", (double) visited / causal)));
            if (kernel == null) {
                device.free(counts);
                device.free(lists);
                return;
            }
            what = tag(kernel) + what;
            CudaSparseAttention att = new CudaSparseAttention(device, d, bf16, kernel);
            float[] got = p.run(att, counts, lists);
            add("gated " + what + " vs masked fp64", p.reference(gpuLists), got, p.maxV, tolerance(bf16), "same blocks as the gate's lists");
            if (visited == causal) {
                // Every block visited, in score order instead of the dense kernel's diagonal-first order.
                add("gated density 1 " + tag(kernel) + p.label() + " vs dense kernel", p.run(att, 0, 0), got, p.maxV, tolerance(bf16), "other block order");
            } else {
                float[] dense = p.reference(null);
                double moved = 0;
                for (int i = 0; i < dense.length; i++) moved = Math.max(moved, Math.abs(dense[i] - got[i]));
                sink.accept(new CudaCheck.Row("prefill-att", "gated " + what + " differs from dense", moved, moved / p.maxV, tolerance(bf16),
                        moved / p.maxV > tolerance(bf16), "sparse must move the output by more than the tolerance, else the masked row proves nothing"));
            }
            device.free(counts);
            device.free(lists);
        }
    }

    private static double[] round(double[] w) {
        double[] r = new double[w.length];
        for (int i = 0; i < w.length; i++) r[i] = (float) w[i];
        return r;
    }

    /** The blocks BlockSelection keeps from SeerGate's scores on the same rounded Q and K, ascending. */
    private static int[][][] cpuSelection(SeerGate gate, Problem p, BlockSelection selection) {
        SeerGate.Shape s = gate.shape();
        int block = s.block(), nb = CudaSparseAttention.blocks(p.len), gd = s.gateDim(), d = p.d;
        double[] gq = new double[p.heads * nb * gd], gk = new double[p.kvHeads * nb * gd];
        double[] pooled = new double[3 * d];
        for (int b = 0; b < nb; b++) {
            int from = b * block, to = Math.min(p.len, from + block);
            for (int h = 0; h < p.heads; h++) {
                SeerGate.averagePool(p.q, p.heads * d, h * d, d, from, to, pooled, 0);
                gate.query(0, h, pooled, 0, from, gq, (h * nb + b) * gd);
            }
            for (int g = 0; g < p.kvHeads; g++) {
                SeerGate.keyPool(p.k, p.kvHeads * d, g * d, d, from, to, pooled, 0);
                gate.key(0, g, pooled, 0, from, gk, (g * nb + b) * gd);
            }
        }
        int[][][] out = new int[p.heads][nb][];
        double[] scores = new double[nb];
        int[] into = new int[nb];
        for (int h = 0; h < p.heads; h++) {
            int g = h / (p.heads / p.kvHeads);
            for (int i = 0; i < nb; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    for (int c = 0; c < gd; c++) dot += gq[(h * nb + i) * gd + c] * gk[(g * nb + j) * gd + c];
                    scores[j] = dot * gate.scale();
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j <= i; j++) sum += scores[j] = Math.exp(scores[j] - max);
                for (int j = 0; j <= i; j++) scores[j] /= sum;
                int n = selection.select(scores, i + 1, into);
                out[h][i] = Arrays.copyOf(into, n);
                Arrays.sort(out[h][i]);
            }
        }
        return out;
    }
}
