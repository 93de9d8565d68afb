package dev.bitcap.train;

import dev.bitcap.attention.BlockSparseAttention;
import dev.bitcap.attention.LayerAttention;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.attention.TokenRun;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.tensor.Parallel;
import java.util.List;

/**
 * Runs a layer's attention densely (the same arithmetic as the engine's dense path, so the frozen model's pass
 * is unchanged) while recording what the gate learns from: the block-pooled Q and K before RoPE, and each
 * row's largest probability per key block, max-pooled over the rows of its query block into the target map.
 * The full attention matrix is never held: one row of scores at a time, per thread.
 */
final class GateTargetCollector implements LayerAttention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int block;
    private final BlockSparseAttention kernel;
    private final GateSample[] samples;
    private final ThreadLocal<float[]> scores = ThreadLocal.withInitial(() -> new float[0]);

    GateTargetCollector(int layers, int heads, int kvHeads, int headDim, int block) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.block = block;
        this.kernel = new BlockSparseAttention(heads, kvHeads, headDim, block);
        this.samples = new GateSample[layers];
    }

    /** The samples of the last pass, one per layer. */
    GateSample[] samples() {
        return samples.clone();
    }

    @Override
    public void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {
        TokenRun run = single(runs);
        int n = run.count(), nb = (n + block - 1) / block;
        int qDim = heads * headDim, kvDim = kvHeads * headDim;
        double[] pq = new double[nb * heads * headDim], pk = new double[nb * kvHeads * 3 * headDim];
        for (int i = 0; i < nb; i++) {
            int from = i * block, to = Math.min(n, from + block);
            for (int h = 0; h < heads; h++) SeerGate.averagePool(q, qDim, h * headDim, headDim, from, to, pq, (i * heads + h) * headDim);
            for (int g = 0; g < kvHeads; g++) SeerGate.keyPool(k, kvDim, g * headDim, headDim, from, to, pk, (i * kvHeads + g) * 3 * headDim);
        }
        samples[layer] = new GateSample(nb, pq, pk, new double[heads * nb * nb]);
    }

    @Override
    public void attend(int layer, List<TokenRun> runs, float[] q, float[] out) {
        TokenRun run = single(runs);
        F32KvCache cache = (F32KvCache) run.cache();
        GateSample s = samples[layer];
        int nb = s.blocks(), n = run.count(), qDim = heads * headDim;
        double[] target = s.target();
        Parallel.forRange(nb * heads, 1, (from, to) -> {
            double[] rowMax = new double[nb];
            for (int idx = from; idx < to; idx++) {
                int i = idx / heads, h = idx % heads, base = (h * nb + i) * nb;
                for (int p = i * block, end = Math.min(n, (i + 1) * block); p < end; p++) {
                    kernel.attendHeadRecordingBlockMax(cache, layer, p, h, q, p * qDim, out, p * qDim, scratch(p + 1), rowMax, 0);
                    for (int j = 0; j <= i; j++) target[base + j] = Math.max(target[base + j], rowMax[j]);
                }
                double sum = 0;
                for (int j = 0; j <= i; j++) sum += target[base + j];
                for (int j = 0; j <= i; j++) target[base + j] /= sum;
            }
        });
    }

    private static TokenRun single(List<TokenRun> runs) {
        if (runs.size() != 1 || runs.get(0).start() != 0) throw new IllegalStateException("gate training runs one window from position 0 per pass");
        return runs.get(0);
    }

    private float[] scratch(int len) {
        float[] s = scores.get();
        if (s.length < len) {
            s = new float[Math.max(len, s.length * 2)];
            scores.set(s);
        }
        return s;
    }
}
