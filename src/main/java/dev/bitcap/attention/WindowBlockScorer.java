package dev.bitcap.attention;

import dev.bitcap.kv.KvCache;

/**
 * A fixed pattern for comparison: the later a block, the higher its score, so a budget of k blocks keeps the
 * first block plus a sliding window of the k-1 most recent ones (StreamingLLM's sink + window, in blocks).
 */
public final class WindowBlockScorer implements BlockScorer {
    private final int heads;
    private final int kvHeads;
    private final int block;

    public WindowBlockScorer(int heads, int kvHeads, int block) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.block = block;
    }

    @Override
    public double[][][] prefill(int layer, TokenRun run, KvCache cache, float[] q) {
        int b0 = run.start() / block, b1 = run.last() / block;
        double[][][] s = new double[b1 - b0 + 1][heads][];
        for (int i = b0; i <= b1; i++) {
            double[] recency = recency(i + 1);
            for (int h = 0; h < heads; h++) s[i - b0][h] = recency;
        }
        return s;
    }

    @Override
    public double[][] decode(int layer, TokenRun run, KvCache cache, float[] q) {
        double[][] s = new double[kvHeads][];
        double[] recency = recency(run.start() / block + 1);
        for (int g = 0; g < kvHeads; g++) s[g] = recency;
        return s;
    }

    private static double[] recency(int n) {
        double[] r = new double[n];
        for (int j = 0; j < n; j++) r[j] = j;
        return r;
    }
}
