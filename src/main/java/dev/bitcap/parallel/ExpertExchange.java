package dev.bitcap.parallel;

import dev.bitcap.engine.CpuFeedForward;
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
        this.owner = new int[full.experts()];
        for (int e = 0; e < owner.length; e++) owner[e] = shard.plan().placement().owner(e, owner.length, ranks);
    }

    /** Adds the block's output for the n rows of {@code xn} to {@code residual}; returns the top-k ids per token. */
    int[] run(Weights.Moe w, float[] xn, int n, float[] residual) {
        int d = full.hiddenSize(), e = full.experts(), k = full.expertsPerToken();
        float[] logits = new float[n * e];
        w.router().matmul(xn, logits, n);
        ExpertRouting routing = ExpertRouting.route(full, logits, n);
        int[] chosen = routing.chosen();
        float[] weight = routing.weight();
        int[] lo = new int[ranks + 1];
        for (int r = 0; r <= ranks; r++) lo[r] = (int) ((long) r * n / ranks);

        // rows[s][ex]: how many of rank s's tokens chose expert ex
        int[][] rows = new int[ranks][e];
        for (int s = 0; s < ranks; s++) {
            for (int t = lo[s]; t < lo[s + 1]; t++) for (int j = 0; j < k; j++) rows[s][chosen[t * k + j]]++;
        }
        // dispatch: my tokens' rows, grouped by destination rank, then expert, then token
        long[] sendCounts = new long[ranks], receiveCounts = new long[ranks];
        for (int ex = 0; ex < e; ex++) {
            sendCounts[owner[ex]] += (long) rows[rank][ex] * d;
            if (owner[ex] == rank) for (int s = 0; s < ranks; s++) receiveCounts[s] += (long) rows[s][ex] * d;
        }
        float[] send = new float[(int) sum(sendCounts)];
        int at = 0;
        for (int dest = 0; dest < ranks; dest++) {
            for (int ex = 0; ex < e; ex++) {
                if (owner[ex] != dest) continue;
                for (int t = lo[rank]; t < lo[rank + 1]; t++) {
                    if (choice(chosen, t, k, ex) < 0) continue;
                    System.arraycopy(xn, t * d, send, at, d);
                    at += d;
                }
            }
        }
        float[] received = new float[(int) sum(receiveCounts)];
        collective.allToAll(send, sendCounts, received, receiveCounts);

        // run each of my experts over the rows all ranks sent it, in token order (rank s holds tokens before rank s+1)
        float[] reply = new float[received.length];
        int[] sourceStart = new int[ranks];
        for (int s = 1; s < ranks; s++) sourceStart[s] = sourceStart[s - 1] + (int) receiveCounts[s - 1];
        int[] cursor = sourceStart.clone();
        for (int ex = 0; ex < e; ex++) {
            if (owner[ex] != rank) continue;
            int m = 0;
            for (int s = 0; s < ranks; s++) m += rows[s][ex];
            if (m == 0) continue;
            float[] xs = new float[m * d], scale = new float[m], ys = new float[m * d];
            int r = 0;
            for (int s = 0; s < ranks; s++) {
                System.arraycopy(received, cursor[s], xs, r * d, rows[s][ex] * d);
                for (int t = lo[s]; t < lo[s + 1]; t++) {
                    int j = choice(chosen, t, k, ex);
                    if (j >= 0) scale[r++] = weight[t * k + j];
                }
            }
            CpuFeedForward.mlp(w.experts()[ex], xs, m, ys, scale);
            r = 0;
            for (int s = 0; s < ranks; s++) {
                System.arraycopy(ys, r * d, reply, cursor[s], rows[s][ex] * d);
                r += rows[s][ex];
                cursor[s] += rows[s][ex] * d;
            }
        }
        float[] back = new float[send.length];
        collective.allToAll(reply, receiveCounts, back, sendCounts);

        // combine in expert order, as one process adds them; back[] is laid out like send[]
        int[] blockStart = new int[e];
        at = 0;
        for (int dest = 0; dest < ranks; dest++) {
            for (int ex = 0; ex < e; ex++) {
                if (owner[ex] != dest) continue;
                blockStart[ex] = at;
                at += rows[rank][ex] * d;
            }
        }
        for (int ex = 0; ex < e; ex++) {
            int row = blockStart[ex];
            for (int t = lo[rank]; t < lo[rank + 1]; t++) {
                if (choice(chosen, t, k, ex) < 0) continue;
                Ops.add(residual, t * d, back, row, d);
                row += d;
            }
        }
        int mine = lo[rank + 1] - lo[rank];
        if (w.shared() != null && mine > 0) shared(w, xn, residual, lo[rank], mine);

        // every rank's own rows, padded to the largest chunk, make the residual whole again
        int chunk = (n + ranks - 1) / ranks * d;
        float[] own = new float[chunk], all = new float[chunk * ranks];
        System.arraycopy(residual, lo[rank] * d, own, 0, mine * d);
        collective.allGather(own, all);
        for (int s = 0; s < ranks; s++) System.arraycopy(all, s * chunk, residual, lo[s] * d, (lo[s + 1] - lo[s]) * d);
        return chosen;
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

    /** Which of token t's k choices is expert ex, or -1. */
    private static int choice(int[] chosen, int t, int k, int ex) {
        for (int j = 0; j < k; j++) if (chosen[t * k + j] == ex) return j;
        return -1;
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) s += x;
        return s;
    }
}
