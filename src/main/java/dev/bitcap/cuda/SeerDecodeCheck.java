package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.GateBlockScorer;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.attention.TokenRun;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.KvCache;
import dev.bitcap.tensor.RopeStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Check rows (group {@value #GROUP}) of the GPU decode gate {@link CudaSeerDecodeGate} against the CPU's
 * {@link GateBlockScorer} (its SeerKeyCache and decode scores) and {@link BlockSelection}: random gates (fp32-rounded
 * weights, two layers), random pre-RoPE Q and K, prompts of several lengths in non-consecutive slots, then decode
 * steps of all the sequences together. Rows: the gate keys after the prompts and after decoding, the scores of every
 * decode row, and the block lists of every row under each selection (near ties allowed, see {@link DecodeListCompare}),
 * the rows with at most two blocks, and the capacity errors.
 */
public final class SeerDecodeCheck {
    static final String GROUP = "seer-decode";
    /** fp32 against double: sums of 64..384 products and a rotation; relative to the largest |key|. */
    static final double KEY_TOLERANCE = 1e-4;
    /** Softmax probabilities from fp32 dot products (|z| of a few units), relative to the largest score. */
    static final double SCORE_TOLERANCE = 1e-4;
    /** Relative distance from the boundary score within which the GPU may choose the other block. */
    static final double TIE_GAP = 1e-4;

    private final CudaDevice device;
    private final Consumer<CudaCheck.Row> sink;
    private final Random rnd = new Random(23);

    public SeerDecodeCheck(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        this.device = device;
        this.sink = sink;
    }

    /** Runs every row, printing each to {@code sink}; returns them. */
    public static List<CudaCheck.Row> rows(CudaDevice device, Consumer<CudaCheck.Row> sink) {
        List<CudaCheck.Row> rows = new ArrayList<>();
        new SeerDecodeCheck(device, r -> {
            rows.add(r);
            sink.accept(r);
        }).run();
        return rows;
    }

    public void run() {
        List<BlockSelection> usual = List.of(BlockSelection.density(0.3), BlockSelection.density(1.0), BlockSelection.threshold(0.02));
        // head dim 64, GQA 4 (8/2 heads), gate dim 32, rotate-half; a prompt of 1000 and one of 37 (n <= 2 for 90 steps)
        decode(64, 8, 2, 32, RopeStyle.ROTATE_HALF, new int[] {2, 0}, new int[] {1000, 37}, 200, 3, 1400, usual, false);
        // head dim 128, GQA 8 (16/2 heads), gate dim 128, adjacent pairs; a prompt of exactly one block (no partial state)
        decode(128, 16, 2, 128, RopeStyle.ADJACENT_PAIRS, new int[] {1, 3, 0}, new int[] {1500, 300, 64}, 200, 4, 2048, usual, true);
        // long rows (c = 512 and 78 blocks): several radix passes over many scores per digit, compaction over chunks
        decode(128, 8, 2, 64, RopeStyle.ROTATE_HALF, new int[] {1, 0}, new int[] {32768, 5000}, 12, 2, 33000,
                List.of(BlockSelection.density(0.1), BlockSelection.density(0.5), BlockSelection.threshold(0.005)), false);
        capacityErrors();
    }

    /** A two-layer gate with random weights rounded to fp32 (the GPU keeps fp32 weights: the CPU side uses the same values). */
    private static SeerGate checkGate(int heads, int kvHeads, int d, int gateDim, RopeStyle style) {
        double[] invFreq = new double[gateDim / 2];
        for (int j = 0; j < invFreq.length; j++) invFreq[j] = Math.pow(10000, -2.0 * j / gateDim);
        SeerGate.Shape shape = new SeerGate.Shape(2, heads, kvHeads, d, gateDim, CudaSparseAttention.BLOCK);
        SeerGate random = SeerGate.initialised(shape, invFreq, style, "check", "check", 17);
        double[][] wq = new double[2][], wk = new double[2][];
        for (int l = 0; l < 2; l++) {
            wq[l] = round(random.queryWeights(l));
            wk[l] = round(random.keyWeights(l));
        }
        return new SeerGate(shape, invFreq, style, "check", "check", wq, wk);
    }

    private static double[] round(double[] w) {
        double[] r = new double[w.length];
        for (int i = 0; i < w.length; i++) r[i] = (float) w[i];
        return r;
    }

    private float[] gaussian(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /** Counts of one selection's list comparisons over a run. */
    private static final class Tally {
        long rows, near, different, malformed, small, smallBad, listed, causal;
    }

    private void decode(int d, int heads, int kvHeads, int gateDim, RopeStyle style, int[] slots, int[] prompts, int steps, int slotCount,
                        int capacity, List<BlockSelection> selections, boolean appendOverload) {
        SeerGate gate = checkGate(heads, kvHeads, d, gateDim, style);
        int layers = gate.shape().layers(), qDim = heads * d, kvDim = kvHeads * d, seqs = slots.length, block = CudaSparseAttention.BLOCK;
        String label = "d" + d + " " + heads + "/" + kvHeads + "h gate " + gateDim + " " + (style == RopeStyle.ADJACENT_PAIRS ? "adjacent" : "half")
                + " prompts " + java.util.Arrays.toString(prompts).replace(" ", "");
        GateBlockScorer cpu = new GateBlockScorer(gate);
        KvCache[] caches = new KvCache[seqs];
        for (int i = 0; i < seqs; i++) caches[i] = new F32KvCache(1, 1, 1); // identity keys of the CPU's key caches
        try (CudaSeerDecodeGate gpu = new CudaSeerDecodeGate(device, gate, slotCount, capacity)) {
            for (int i = 0; i < seqs; i++) {
                float[] k = gaussian(prompts[i] * kvDim), q = new float[prompts[i] * qDim];
                long dk = device.upload(k);
                for (int layer = 0; layer < layers; layer++) {
                    cpu.prepare(layer, List.of(new TokenRun(caches[i], 0, prompts[i], 0)), q, k);
                    gpu.prompt(slots[i], layer, dk, prompts[i]);
                }
                device.free(dk);
            }
            keysRow(gpu, cpu, caches, slots, "gate keys after prompts " + label);

            int longest = 0, lastBlocks = 0;
            for (int n : prompts) longest = Math.max(longest, n + steps);
            lastBlocks = (longest - 1) / block;
            int[] strides = new int[selections.size()];
            long[] lists = new long[selections.size()];
            for (int x = 0; x < strides.length; x++) {
                strides[x] = 1 + CudaSeerDecodeGate.maxListed(selections.get(x), longest);
                lists[x] = device.alloc(4L * seqs * kvHeads * strides[x]);
            }
            int scoreStride = Math.max(1, lastBlocks);
            long dScores = device.alloc(4L * seqs * kvHeads * scoreStride), dq = device.alloc(4L * seqs * qDim), dk = device.alloc(4L * seqs * kvDim);
            Tally[] tallies = new Tally[selections.size()];
            for (int x = 0; x < tallies.length; x++) tallies[x] = new Tally();
            double scoreAbs = 0, scoreRef = 0;
            long scoreRows = 0;
            boolean scoresFinite = true;
            int[] positions = new int[seqs];
            for (int step = 0; step < steps; step++) {
                for (int i = 0; i < seqs; i++) positions[i] = prompts[i] + step;
                float[] q = gaussian(seqs * qDim), k = gaussian(seqs * kvDim);
                device.upload(dq, q, 0, q.length);
                device.upload(dk, k, 0, k.length);
                if (!appendOverload) gpu.beginDecode(slots, positions);
                List<TokenRun> runs = new ArrayList<>();
                for (int i = 0; i < seqs; i++) runs.add(new TokenRun(caches[i], i, 1, positions[i]));
                for (int layer = 0; layer < layers; layer++) {
                    cpu.prepare(layer, runs, q, k);
                    double[][][] want = new double[seqs][][];
                    for (int i = 0; i < seqs; i++) want[i] = cpu.decode(layer, runs.get(i), null, q);
                    if (appendOverload) gpu.append(layer, dk, slots, positions);
                    else gpu.append(layer, dk);
                    for (int x = 0; x < selections.size(); x++) {
                        gpu.select(layer, dq, selections.get(x), lists[x], strides[x], x == 0 ? dScores : 0, scoreStride);
                        int[] got = CudaSeerGate.downloadInts(device, lists[x], seqs * kvHeads * strides[x]);
                        for (int i = 0; i < seqs; i++) {
                            int c = positions[i] / block;
                            for (int g = 0; g < kvHeads; g++) tally(tallies[x], want[i][g], c + 1, selections.get(x), DecodeListCompare.row(got, i * kvHeads + g, strides[x]));
                        }
                    }
                    float[] scores = device.download(dScores, seqs * kvHeads * scoreStride);
                    for (int i = 0; i < seqs; i++) {
                        int c = positions[i] / block;
                        if (c < 2) continue; // rows of at most two blocks are listed without scores
                        for (int g = 0; g < kvHeads; g++) {
                            scoreRows++;
                            for (int j = 0; j < c; j++) {
                                float v = scores[(i * kvHeads + g) * scoreStride + j];
                                if (!Float.isFinite(v)) scoresFinite = false;
                                scoreAbs = Math.max(scoreAbs, Math.abs(v - want[i][g][j]));
                                scoreRef = Math.max(scoreRef, Math.abs(want[i][g][j]));
                            }
                        }
                    }
                }
            }
            double rel = scoreRef == 0 ? scoreAbs : scoreAbs / scoreRef;
            sink.accept(new CudaCheck.Row(GROUP, "decode scores " + label + " vs cpu GateBlockScorer", scoreAbs, rel, SCORE_TOLERANCE,
                    scoresFinite && scoreRows > 0 && rel <= SCORE_TOLERANCE, scoresFinite ? scoreRows + " rows of " + steps + " steps x " + layers + " layers" : "non-finite scores"));
            long small = 0, smallBad = 0;
            for (int x = 0; x < selections.size(); x++) {
                Tally t = tallies[x];
                small += t.small;
                smallBad += t.smallBad;
                boolean pass = t.different == 0 && t.malformed == 0;
                sink.accept(new CudaCheck.Row(GROUP, "blocks " + selections.get(x) + " " + label + " vs cpu BlockSelection", t.different + t.malformed,
                        (double) (t.different + t.malformed) / t.rows, 0, pass,
                        String.format("%d of %d rows differ: %d near ties (gap %.0e), %d clear, %d malformed; density reached %.3f", t.near + t.different + t.malformed,
                                t.rows, t.near, TIE_GAP, t.different, t.malformed, (double) t.listed / t.causal)));
            }
            if (small > 0) { // runs whose prompts are all past two blocks have no such rows
                sink.accept(new CudaCheck.Row(GROUP, "blocks of rows with n <= 2 " + label, smallBad, (double) smallBad / small, 0, smallBad == 0,
                        small + " rows (all selections), every block listed"));
            }
            keysRow(gpu, cpu, caches, slots, "gate keys after " + steps + " steps " + label);
            for (long p : lists) device.free(p);
            device.free(dScores);
            device.free(dq);
            device.free(dk);
        }
    }

    private static void tally(Tally t, double[] scores, int n, BlockSelection selection, int[] got) {
        t.rows++;
        t.causal += n;
        if (got == null) {
            t.malformed++;
            if (n <= 2) {
                t.small++;
                t.smallBad++;
            }
            return;
        }
        t.listed += got.length;
        DecodeListCompare.Verdict v = DecodeListCompare.judge(scores, n, selection, got, TIE_GAP);
        if (n <= 2) {
            t.small++;
            if (v != DecodeListCompare.Verdict.SAME) t.smallBad++;
        }
        if (got.length > CudaSeerDecodeGate.maxListed(selection, n * CudaSparseAttention.BLOCK)) t.malformed++;
        else if (v == DecodeListCompare.Verdict.NEAR_TIE) t.near++;
        else if (v == DecodeListCompare.Verdict.DIFFERENT) t.different++;
    }

    /** Every completed block's gate key of every sequence and layer, GPU against the CPU's SeerKeyCache. */
    private void keysRow(CudaSeerDecodeGate gpu, GateBlockScorer cpu, KvCache[] caches, int[] slots, String name) {
        List<float[]> ref = new ArrayList<>(), got = new ArrayList<>();
        int total = 0, blocks = 0;
        SeerGate.Shape s = gpu.shape();
        for (int i = 0; i < caches.length; i++) {
            for (int layer = 0; layer < s.layers(); layer++) {
                double[] want = cpu.completedKeys(caches[i], layer);
                int completed = want.length / (s.kvHeads() * s.gateDim());
                float[] w = new float[want.length];
                for (int x = 0; x < w.length; x++) w[x] = (float) want[x];
                ref.add(w);
                got.add(gpu.downloadKeys(slots[i], layer, completed));
                total += w.length;
                blocks += completed;
            }
        }
        float[] r = new float[total], g = new float[total];
        int at = 0;
        for (int x = 0; x < ref.size(); x++) {
            System.arraycopy(ref.get(x), 0, r, at, ref.get(x).length);
            System.arraycopy(got.get(x), 0, g, at, got.get(x).length);
            at += ref.get(x).length;
        }
        sink.accept(CudaCheck.Row.compare(GROUP, name + " vs cpu SeerKeyCache", r, g, KEY_TOLERANCE, blocks + " blocks x " + s.kvHeads() + " KV heads"));
    }

    /** A prompt past the capacity and a decode position past it are one-line BitcapExceptions; a position skipped is refused. */
    private void capacityErrors() {
        SeerGate gate = checkGate(4, 2, 64, 32, RopeStyle.ROTATE_HALF);
        int caught = 0;
        StringBuilder notes = new StringBuilder();
        try (CudaSeerDecodeGate gpu = new CudaSeerDecodeGate(device, gate, 2, 100)) {
            long dk = device.alloc(4L * 101 * 2 * 64);
            try {
                gpu.prompt(1, 0, dk, 101);
            } catch (BitcapException e) {
                caught++;
            }
            gpu.prompt(1, 0, dk, 100);
            try {
                gpu.beginDecode(new int[] {1}, new int[] {100});
            } catch (BitcapException e) {
                caught++;
                notes.append(e.getMessage());
            }
            try {
                gpu.prompt(0, 0, dk, 50);
                gpu.beginDecode(new int[] {0}, new int[] {51});
            } catch (IllegalStateException e) {
                caught++;
            }
            device.free(dk);
        }
        sink.accept(new CudaCheck.Row(GROUP, "capacity and position errors", 3 - caught, 3 - caught, 0, caught == 3, notes.toString()));
    }
}
