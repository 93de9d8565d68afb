package dev.bitcap.engine;

import dev.bitcap.attention.DenseAttention;
import dev.bitcap.attention.LayerAttention;
import dev.bitcap.attention.PackedAttention;
import dev.bitcap.attention.TokenRun;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.Parallel;
import dev.bitcap.tensor.Rope;

/** Self-attention of one layer on the CPU: projections for all tokens at once, RoPE, KV append, causal attention. */
public final class CpuAttentionBlock {
    private final ModelConfig c;
    private final RopeTable rope;
    private final DenseAttention attention;
    private final PackedAttention packedAttention;
    private final ThreadLocal<float[]> scores = ThreadLocal.withInitial(() -> new float[0]);
    private final ThreadLocal<PackedAttention.Scratch> packedScratch = ThreadLocal.withInitial(PackedAttention.Scratch::new);
    /** Replaces dense attention when set (block-sparse attention, gate training); null = dense. */
    private LayerAttention replacement;

    public CpuAttentionBlock(ModelConfig config, RopeTable rope) {
        this.c = config;
        this.rope = rope;
        this.attention = new DenseAttention(config.heads(), config.kvHeads(), config.headDim());
        this.packedAttention = new PackedAttention(config.heads(), config.kvHeads(), config.headDim());
    }

    void replaceAttention(LayerAttention attention) {
        this.replacement = attention;
    }

    /** Adds the attention output of normalised input {@code xn} ({@code n x hidden}) to {@code out}. */
    public void run(int layer, Weights.Attention w, TokenBatch batch, float[] xn, float[] residual) {
        int n = batch.size();
        int qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim();
        float[] q = new float[n * qDim], k = new float[n * kvDim], v = new float[n * kvDim];
        w.q().matmul(xn, q, n);
        w.k().matmul(xn, k, n);
        w.v().matmul(xn, v, n);
        for (int t = 0; t < n; t++) {
            if (w.qBias() != null) Ops.add(q, t * qDim, w.qBias(), 0, qDim);
            if (w.kBias() != null) Ops.add(k, t * kvDim, w.kBias(), 0, kvDim);
            if (w.vBias() != null) Ops.add(v, t * kvDim, w.vBias(), 0, kvDim);
            if (w.qNorm() != null) {
                for (int h = 0; h < c.heads(); h++) Ops.rmsnorm(q, t * qDim + h * hd, q, t * qDim + h * hd, w.qNorm(), hd, c.rmsEps());
                for (int h = 0; h < c.kvHeads(); h++) Ops.rmsnorm(k, t * kvDim + h * hd, k, t * kvDim + h * hd, w.kNorm(), hd, c.rmsEps());
            }
        }
        java.util.List<TokenRun> runs = null;
        if (replacement != null) {
            runs = TokenRun.of(batch.positions(), batch.sequenceOf(), s -> batch.sequences().get(s).cache());
            replacement.prepare(layer, runs, q, k); // the gate reads Q and K before RoPE
        }
        for (int t = 0; t < n; t++) {
            int p = batch.positions()[t];
            Rope.apply(q, t * qDim, c.heads(), hd, rope.cos(p), rope.sin(p), c.ropeStyle());
            Rope.apply(k, t * kvDim, c.kvHeads(), hd, rope.cos(p), rope.sin(p), c.ropeStyle());
            batch.sequences().get(batch.sequenceOf()[t]).cache().append(layer, p, k, t * kvDim, v, t * kvDim);
        }
        float[] att = new float[n * qDim];
        if (replacement != null) {
            replacement.attend(layer, runs, q, att);
            finish(w, att, residual, n);
            return;
        }
        if (batch.sequences().get(0).cache() instanceof F32KvCache) {
            int heads = c.heads();
            Parallel.forRange(n * heads, 4, (start, end) -> {
                for (int i = start; i < end; i++) {
                    int t = i / heads, h = i % heads;
                    int p = batch.positions()[t];
                    F32KvCache cache = (F32KvCache) batch.sequences().get(batch.sequenceOf()[t]).cache();
                    attention.attendHead(cache, layer, p, h, q, t * qDim, att, t * qDim, scratch(p + 1));
                }
            });
        } else {
            // one work item per (token, KV head): the packed cache is decoded once for all the query heads sharing it
            int kvHeads = c.kvHeads();
            Parallel.forRange(n * kvHeads, 2, (start, end) -> {
                for (int i = start; i < end; i++) {
                    int t = i / kvHeads, kvh = i % kvHeads;
                    PagedKvCache cache = (PagedKvCache) batch.sequences().get(batch.sequenceOf()[t]).cache();
                    packedAttention.attendGroup(cache, layer, batch.positions()[t], kvh, q, t * qDim, att, t * qDim, packedScratch.get());
                }
            });
        }
        finish(w, att, residual, n);
    }

    private void finish(Weights.Attention w, float[] att, float[] residual, int n) {
        float[] o = new float[n * c.hiddenSize()];
        w.o().matmul(att, o, n);
        Ops.add(residual, 0, o, 0, o.length);
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
