package dev.bitcap.parallel;

import dev.bitcap.engine.CpuFeedForward;
import dev.bitcap.engine.ExchangePlan;
import dev.bitcap.engine.ExpertRouting;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.Ops;

/**
 * A MoE block under expert parallelism. Every rank routes all tokens (the router is replicated and the hidden state
 * identical everywhere, so all ranks agree on the routing without exchanging it), but owns only a contiguous chunk of
 * the tokens and only its experts. The hidden rows of its tokens go by all-to-all to the ranks owning their experts;
 * each expert runs once over all the rows it received, in token order as on one process; the results go back by a
 * second all-to-all and are added to the residual in expert order, the shared expert runs on the rank's own tokens,
 * and an all-gather makes the residual whole again on every rank.
 */
final class ExpertExchange {
    private final ModelConfig full;
    private final Collective collective;
    private final int rank;
    private final int ranks;
    private final int[] owner;

    ExpertExchange(ModelShard shard, Collective collective) {
        this.full = shard.full();
        this.collective = collective;
        this.rank = shard.rank();
        this.ranks = shard.plan().ranks();
        this.owner = shard.plan().expertOwners(full.experts());
    }

    /** Adds the block's output for the n rows of {@code xn} to {@code residual}; returns the top-k ids per token. */
    int[] run(Weights.Moe w, float[] xn, int n, float[] residual) {
        int d = full.hiddenSize(), e = full.experts(), k = full.expertsPerToken();
        float[] logits = new float[n * e];
        w.router().matmul(xn, logits, n);
        ExpertRouting routing = ExpertRouting.route(full, logits, n);
        ExchangePlan plan = ExchangePlan.of(routing.chosen(), routing.weight(), n, k, owner, rank, ranks);
        long[] sendCounts = ExchangePlan.times(plan.sendRows(), d), receiveCounts = ExchangePlan.times(plan.receiveRows(), d);

        // dispatch: my tokens' rows, grouped by destination rank, then expert, then token
        int[] sendTokens = plan.sendTokens();
        float[] send = new float[sendTokens.length * d];
        for (int i = 0; i < sendTokens.length; i++) System.arraycopy(xn, sendTokens[i] * d, send, i * d, d);
        float[] received = new float[(int) sum(receiveCounts)];
        collective.allToAll(send, sendCounts, received, receiveCounts);

        // run each of my experts over the rows all ranks sent it, in token order; each result goes back in its row's place
        float[] reply = new float[received.length];
        int[] expertRows = plan.expertRows();
        float[] expertScales = plan.expertScales();
        for (int ex = 0; ex < e; ex++) {
            int m = plan.expertCount(ex), first = plan.expertStart(ex);
            if (m == 0) continue;
            float[] xs = new float[m * d], ys = new float[m * d];
            for (int i = 0; i < m; i++) System.arraycopy(received, expertRows[first + i] * d, xs, i * d, d);
            CpuFeedForward.mlp(w.experts()[ex], xs, m, ys, java.util.Arrays.copyOfRange(expertScales, first, first + m));
            for (int i = 0; i < m; i++) System.arraycopy(ys, i * d, reply, expertRows[first + i] * d, d);
        }
        float[] back = new float[send.length];
        collective.allToAll(reply, receiveCounts, back, sendCounts);

        // combine in expert order, as one process adds them
        int[] combineTokens = plan.combineTokens(), combineRows = plan.combineRows();
        for (int i = 0; i < combineTokens.length; i++) Ops.add(residual, combineTokens[i] * d, back, combineRows[i] * d, d);
        int first = plan.firstToken(), mine = plan.tokens();
        if (w.shared() != null && mine > 0) shared(w, xn, residual, first, mine);

        // every rank's own rows, padded to the largest chunk, make the residual whole again
        int chunk = (n + ranks - 1) / ranks * d;
        float[] own = new float[chunk], all = new float[chunk * ranks];
        System.arraycopy(residual, first * d, own, 0, mine * d);
        collective.allGather(own, all);
        for (int s = 0; s < ranks; s++) {
            int from = plan.firstTokenOf(s);
            System.arraycopy(all, s * chunk, residual, from * d, (plan.firstTokenOf(s + 1) - from) * d);
        }
        return routing.chosen();
    }

    /** The shared expert (with its sigmoid gate when there is one) over tokens [first, first + m). */
    private void shared(Weights.Moe w, float[] xn, float[] residual, int first, int m) {
        int d = full.hiddenSize();
        float[] xs = java.util.Arrays.copyOfRange(xn, first * d, (first + m) * d);
        float[] out = java.util.Arrays.copyOfRange(residual, first * d, (first + m) * d);
        float[] gate = null;
        if (w.sharedGate() != null) {
            gate = new float[m];
            for (int t = 0; t < m; t++) gate[t] = (float) (1.0 / (1.0 + Math.exp(-Ops.dot(w.sharedGate(), 0, xs, t * d, d))));
        }
        CpuFeedForward.mlp(w.shared(), xs, m, out, gate);
        System.arraycopy(out, 0, residual, first * d, m * d);
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) s += x;
        return s;
    }
}
