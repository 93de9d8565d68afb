package dev.bitcap.attention;

import dev.bitcap.kv.F32KvCache;
import java.util.List;

/**
 * A reference for block-sparse attention: takes the same block lists (its own scorer instance, the same
 * selection) but computes plain attention in double over every causal key, with keys of unchosen blocks masked
 * out, instead of visiting only the chosen ones.
 */
final class MaskedReferenceAttention implements LayerAttention {
    private final int heads, kvHeads, headDim, block;
    private final BlockScorer scorer;
    private final BlockSelection selection;

    MaskedReferenceAttention(int heads, int kvHeads, int headDim, int block, BlockScorer scorer, BlockSelection selection) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.block = block;
        this.scorer = scorer;
        this.selection = selection;
    }

    @Override
    public void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {
        scorer.prepare(layer, runs, q, k);
    }

    @Override
    public void attend(int layer, List<TokenRun> runs, float[] q, float[] out) {
        int qDim = heads * headDim, group = heads / kvHeads;
        for (TokenRun run : runs) {
            F32KvCache cache = (F32KvCache) run.cache();
            if (run.count() == 1) {
                int p = run.start(), n = p / block + 1;
                double[][] s = scorer.decode(layer, run, cache, q);
                for (int h = 0; h < heads; h++) {
                    attend(cache, layer, p, h, allowed(s[h / group], n), q, run.first() * qDim, out);
                }
            } else {
                int b0 = run.start() / block;
                double[][][] s = scorer.prefill(layer, run, cache, q);
                for (int t = 0; t < run.count(); t++) {
                    int p = run.start() + t, i = p / block;
                    for (int h = 0; h < heads; h++) attend(cache, layer, p, h, allowed(s[i - b0][h], i + 1), q, (run.first() + t) * qDim, out);
                }
            }
        }
    }

    private boolean[] allowed(double[] scores, int n) {
        int[] list = new int[n];
        int count = selection.select(scores, n, list);
        boolean[] allowed = new boolean[n];
        for (int i = 0; i < count; i++) allowed[list[i]] = true;
        return allowed;
    }

    private void attend(F32KvCache cache, int layer, int p, int h, boolean[] allowed, float[] q, int qOff, float[] out) {
        int stride = cache.rowWidth(), kv = h / (heads / kvHeads) * headDim;
        float[] keys = cache.keys(layer), values = cache.values(layer);
        double[] w = new double[p + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int t = 0; t <= p; t++) {
            if (!allowed[t / block]) continue;
            double s = 0;
            for (int c = 0; c < headDim; c++) s += (double) q[qOff + h * headDim + c] * keys[t * stride + kv + c];
            w[t] = s / Math.sqrt(headDim);
            max = Math.max(max, w[t]);
        }
        double sum = 0;
        for (int t = 0; t <= p; t++) sum += w[t] = allowed[t / block] ? Math.exp(w[t] - max) : 0;
        for (int c = 0; c < headDim; c++) {
            double acc = 0;
            for (int t = 0; t <= p; t++) acc += w[t] * values[t * stride + kv + c];
            out[qOff + h * headDim + c] = (float) (acc / sum);
        }
    }
}
