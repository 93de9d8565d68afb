package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.KvCache;
import dev.bitcap.tensor.Parallel;

/**
 * The oracle the gate is measured against: scores each key block by the true attention map, the largest
 * probability any row of the query block (any head of the group, in decode) gives a key in it, normalised over
 * the row's blocks. It runs a dense attention pass to know that, so it saves nothing; it bounds what a gate can do.
 */
public final class OracleBlockScorer implements BlockScorer {
    private final int heads;
    private final int kvHeads;
    private final int qDim;
    private final int block;
    private final BlockSparseAttention kernel;
    private final ThreadLocal<float[]> scratch = ThreadLocal.withInitial(() -> new float[0]);

    public OracleBlockScorer(int heads, int kvHeads, int headDim, int block) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.qDim = heads * headDim;
        this.block = block;
        this.kernel = new BlockSparseAttention(heads, kvHeads, headDim, block);
    }

    @Override
    public double[][][] prefill(int layer, TokenRun run, KvCache kv, float[] q) {
        F32KvCache cache = exact(kv);
        int b0 = run.start() / block, b1 = run.last() / block;
        double[][][] s = new double[b1 - b0 + 1][heads][];
        Parallel.forRange((b1 - b0 + 1) * heads, 1, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int i = b0 + idx / heads, h = idx % heads;
                double[] best = new double[i + 1], row = new double[i + 1];
                int p0 = Math.max(run.start(), i * block), p1 = Math.min(run.last(), (i + 1) * block - 1);
                for (int p = p0; p <= p1; p++) maxInto(cache, layer, p, h, q, (run.first() + p - run.start()) * qDim, row, best);
                s[idx / heads][h] = normalised(best);
            }
        });
        return s;
    }

    @Override
    public double[][] decode(int layer, TokenRun run, KvCache kv, float[] q) {
        F32KvCache cache = exact(kv);
        int p = run.start(), n = p / block + 1, group = heads / kvHeads;
        double[][] s = new double[kvHeads][];
        double[] row = new double[n];
        for (int g = 0; g < kvHeads; g++) {
            double[] best = new double[n];
            for (int h = g * group; h < (g + 1) * group; h++) maxInto(cache, layer, p, h, q, run.first() * qDim, row, best);
            s[g] = normalised(best);
        }
        return s;
    }

    private void maxInto(F32KvCache cache, int layer, int p, int h, float[] q, int qOff, double[] row, double[] best) {
        float[] sc = scratch.get();
        if (sc.length < p + 1) {
            sc = new float[Math.max(p + 1, 2 * sc.length)];
            scratch.set(sc);
        }
        kernel.attendHeadRecordingBlockMax(cache, layer, p, h, q, qOff, null, 0, sc, row, 0);
        for (int j = 0, n = p / block + 1; j < n; j++) best[j] = Math.max(best[j], row[j]);
    }

    /** The oracle ranks blocks by the true attention map, which it reads from the f32 cache. */
    private static F32KvCache exact(KvCache cache) {
        if (cache instanceof F32KvCache f32) return f32;
        throw new BitcapException("--attention oracle reads the true attention map from an f32 KV cache; the " + cache.format() + " cache is not supported with it");
    }

    private static double[] normalised(double[] x) {
        double sum = 0;
        for (double v : x) sum += v;
        if (sum > 0) for (int j = 0; j < x.length; j++) x[j] /= sum;
        return x;
    }
}
