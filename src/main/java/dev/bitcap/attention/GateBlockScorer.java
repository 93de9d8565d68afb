package dev.bitcap.attention;

import dev.bitcap.kv.KvCache;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Scores blocks with a trained {@link SeerGate}. Each sequence's compressed keys live in a {@link SeerKeyCache}
 * found by its KV cache (weakly held, so they go when the sequence does); scores are computed in
 * {@link #prepare}, where Q and K are still unrotated, and handed out in {@link #prefill} / {@link #decode}.
 * Prefill: softmax over the row's blocks of the pooled query against every block key. Decode (SeerAttention-R):
 * the token's own query per head against the completed blocks, softmax per head, averaged over the heads of
 * a KV group so that the group shares one selection. This reuses the prefill gate's query maps for a single
 * token instead of training a separate decode projection.
 */
public final class GateBlockScorer implements BlockScorer {
    private final SeerGate gate;
    private final int layers;
    private final SeerGate.Shape s;
    private final Map<KvCache, SeerKeyCache> keyCaches = Collections.synchronizedMap(new WeakHashMap<>());
    private final Map<TokenRun, double[][][]> prefillScores = new HashMap<>();
    private final Map<TokenRun, double[][]> decodeScores = new HashMap<>();

    public GateBlockScorer(SeerGate gate) {
        this.gate = gate;
        this.s = gate.shape();
        this.layers = s.layers();
    }

    @Override
    public void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {
        prefillScores.clear();
        decodeScores.clear();
        int qDim = s.heads() * s.headDim(), kvDim = s.kvHeads() * s.headDim();
        for (TokenRun run : runs) {
            SeerKeyCache keys = keyCaches.computeIfAbsent(run.cache(), c -> new SeerKeyCache(gate, layers));
            for (int t = 0; t < run.count(); t++) keys.add(layer, run.start() + t, k, (run.first() + t) * kvDim);
            if (run.count() == 1) {
                decodeScores.put(run, decodeScores(layer, run, keys, q, qDim));
            } else {
                prefillScores.put(run, prefillScores(layer, run, keys, q, qDim));
            }
        }
    }

    @Override
    public double[][][] prefill(int layer, TokenRun run, KvCache cache, float[] q) {
        return prefillScores.get(run);
    }

    @Override
    public double[][] decode(int layer, TokenRun run, KvCache cache, float[] q) {
        return decodeScores.get(run);
    }

    /**
     * A copy of the gate keys of the completed blocks of a sequence's layer, {@code [(j·kvHeads + g)·gateDim + o]} for
     * {@code j <} the completed count (empty before any pass of that sequence): for checks of other implementations.
     */
    public double[] completedKeys(KvCache cache, int layer) {
        SeerKeyCache keys = keyCaches.get(cache);
        if (keys == null) return new double[0];
        return java.util.Arrays.copyOf(keys.storedKeys(layer), keys.completed(layer) * s.kvHeads() * s.gateDim());
    }

    private double[][][] prefillScores(int layer, TokenRun run, SeerKeyCache keys, float[] q, int qDim) {
        int block = s.block(), gd = s.gateDim(), hd = s.headDim(), group = s.heads() / s.kvHeads();
        int b0 = run.start() / block, b1 = run.last() / block;
        double[] kb = new double[(b1 + 1) * s.kvHeads() * gd];
        for (int j = 0; j <= b1; j++) keys.keysOf(layer, j, kb, j * s.kvHeads() * gd);
        double[][][] scores = new double[b1 - b0 + 1][s.heads()][];
        double[] pooled = new double[hd], qa = new double[gd];
        for (int i = b0; i <= b1; i++) {
            int from = Math.max(run.start(), i * block) - run.start() + run.first();
            int to = Math.min(run.last(), (i + 1) * block - 1) - run.start() + run.first() + 1;
            for (int h = 0; h < s.heads(); h++) {
                SeerGate.averagePool(q, qDim, h * hd, hd, from, to, pooled, 0);
                gate.query(layer, h, pooled, 0, i * block, qa, 0);
                scores[i - b0][h] = softmaxScores(qa, kb, h / group, i + 1);
            }
        }
        return scores;
    }

    private double[][] decodeScores(int layer, TokenRun run, SeerKeyCache keys, float[] q, int qDim) {
        int gd = s.gateDim(), hd = s.headDim(), group = s.heads() / s.kvHeads();
        int c = run.start() / s.block();
        double[][] scores = new double[s.kvHeads()][c + 1];
        if (c == 0) return scores;
        double[] kb = keys.storedKeys(layer), pooled = new double[hd], qa = new double[gd];
        for (int h = 0; h < s.heads(); h++) {
            SeerGate.averagePool(q, qDim, h * hd, hd, run.first(), run.first() + 1, pooled, 0);
            gate.query(layer, h, pooled, 0, run.start(), qa, 0);
            double[] p = softmaxScores(qa, kb, h / group, c);
            for (int j = 0; j < c; j++) scores[h / group][j] += p[j] / group;
        }
        return scores;
    }

    /** softmax over blocks j < n of scale·(qa · key of KV head g in block j); the result has n entries. */
    private double[] softmaxScores(double[] qa, double[] kb, int g, int n) {
        int gd = s.gateDim(), kvHeads = s.kvHeads();
        double scale = gate.scale(), max = Double.NEGATIVE_INFINITY;
        double[] z = new double[n];
        for (int j = 0; j < n; j++) {
            double dot = 0;
            int off = (j * kvHeads + g) * gd;
            for (int o = 0; o < gd; o++) dot += qa[o] * kb[off + o];
            z[j] = dot * scale;
            max = Math.max(max, z[j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) sum += z[j] = Math.exp(z[j] - max);
        for (int j = 0; j < n; j++) z[j] /= sum;
        return z;
    }
}
