package dev.bitcap.parallel;

import dev.bitcap.engine.CpuAttentionBlock;
import dev.bitcap.engine.CpuFeedForward;
import dev.bitcap.engine.ForwardObserver;
import dev.bitcap.engine.RopeTable;
import dev.bitcap.engine.Sequence;
import dev.bitcap.engine.TokenBatch;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One rank's forward pass on the CPU, the same on every rank: the CPU backend's blocks run over this rank's shard,
 * and where a block's output is a partial sum (attention after the o projection, MLP after the down projection
 * under tp) it is all-reduced before it joins the residual. Every rank therefore holds the whole hidden state after
 * each block, bit for bit the same. Only a rank asked for logits applies the final norm and the head.
 */
final class RankForward implements RankPass {
    /** Logits (null when not asked for) and, per MoE layer, the top-k expert ids of each token. */
    record Result(float[] logits, int[][] routed) {}

    private final ModelShard shard;
    private final ModelConfig full;
    private final Collective collective;
    private final RopeTable rope;
    private final CpuAttentionBlock attention;
    private final CpuFeedForward feedForward;
    private final ExpertExchange experts;

    RankForward(ModelShard shard, Collective collective) {
        this.shard = shard;
        this.full = shard.full();
        this.collective = collective;
        this.rope = new RopeTable(shard.config());
        this.attention = new CpuAttentionBlock(shard.config(), rope);
        this.feedForward = new CpuFeedForward(shard.config());
        this.experts = shard.plan().expertParallel() ? new ExpertExchange(shard, collective) : null;
    }

    @Override
    public Sequence newSequence(int capacity) {
        return ParallelBackend.newLocalSequence(shard, capacity);
    }

    @Override
    public Result forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits, boolean wantLogits) {
        TokenBatch batch = TokenBatch.of(sequences, tokens);
        int n = batch.size(), d = full.hiddenSize();
        int maxPos = 0;
        for (int p : batch.positions()) maxPos = Math.max(maxPos, p);
        rope.ensure(maxPos);
        boolean tp = shard.plan().tp() > 1;
        Weights.Model w = shard.weights();

        float[] x = batch.embed(w.embedding(), d);
        float[] xn = new float[n * d];
        int[][] routed = new int[full.layers()][];
        for (int l = 0; l < full.layers(); l++) {
            Weights.Layer layer = w.layers()[l];
            rmsnormRows(x, xn, layer.attnNorm(), n);
            if (tp) {
                float[] part = new float[n * d];
                attention.run(l, layer.attention(), batch, xn, part);
                reduceInto(part, x);
            } else {
                attention.run(l, layer.attention(), batch, xn, x);
            }
            rmsnormRows(x, xn, layer.mlpNorm(), n);
            if (layer.moe() != null && experts != null) {
                routed[l] = experts.run(layer.moe(), xn, n, x);
            } else if (layer.moe() != null) {
                if (tp) {
                    float[] part = new float[n * d];
                    routed[l] = feedForward.moe(l, layer.moe(), xn, n, part, ForwardObserver.NONE);
                    reduceInto(part, x);
                } else {
                    routed[l] = feedForward.moe(l, layer.moe(), xn, n, x, ForwardObserver.NONE);
                }
            } else if (tp) {
                float[] part = new float[n * d];
                CpuFeedForward.mlp(layer.mlp(), xn, n, part, null);
                reduceInto(part, x);
            } else {
                CpuFeedForward.mlp(layer.mlp(), xn, n, x, null);
            }
        }
        for (int s = 0; s < sequences.size(); s++) sequences.get(s).advance(tokens.get(s).length);
        if (!wantLogits) return new Result(null, routed);

        int[] rows = allLogits ? null : TokenBatch.lastTokenRows(tokens);
        int m = allLogits ? n : rows.length;
        float[] h = new float[m * d];
        for (int r = 0; r < m; r++) Ops.rmsnorm(h, r * d, x, (allLogits ? r : rows[r]) * d, w.finalNorm(), d, full.rmsEps());
        float[] logits = new float[m * full.vocabSize()];
        w.lmHead().matmul(h, logits, m);
        return new Result(logits, routed);
    }

    /** Sums this rank's partial block output over the ranks and adds it to the residual. */
    private void reduceInto(float[] part, float[] residual) {
        collective.allReduceSum(part);
        Ops.add(residual, 0, part, 0, part.length);
    }

    private void rmsnormRows(float[] x, float[] out, float[] weight, int n) {
        int d = full.hiddenSize();
        for (int t = 0; t < n; t++) Ops.rmsnorm(out, t * d, x, t * d, weight, d, full.rmsEps());
    }


}
