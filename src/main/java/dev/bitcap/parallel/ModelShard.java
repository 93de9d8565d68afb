package dev.bitcap.parallel;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import java.lang.foreign.Arena;

/**
 * One rank's part of a model. {@code config} is the shape this rank computes (its heads, its share of the
 * intermediate sizes); {@code weights} holds views of the mapped file where rows are cut, copies owned by
 * {@code arena} where columns are cut, and, under expert parallelism, only this rank's experts (others null).
 * Embedding, norms, router and head are shared with the full model, not copied.
 *
 * @param full the whole model's shape (vocabulary, experts, head counts for the record)
 */
public record ModelShard(ModelConfig full, ModelConfig config, Weights.Model weights, int rank, ParallelPlan plan, Arena arena)
        implements AutoCloseable {

    public static ModelShard of(LoadedModel model, ParallelPlan plan, int rank) {
        if (rank < 0 || rank >= plan.ranks()) throw new IllegalArgumentException("rank " + rank + " of " + plan.ranks());
        ModelConfig c = model.config();
        plan.check(c);
        int tp = plan.tp(), tr = plan.tp() > 1 ? rank : 0;
        boolean ep = plan.expertParallel();
        Arena arena = Arena.ofShared();
        try {
            Weights.Model w = model.weights();
            Weights.Layer[] layers = new Weights.Layer[c.layers()];
            for (int l = 0; l < layers.length; l++) {
                Weights.Layer in = w.layers()[l];
                Weights.Attention a = tp > 1 ? attention(in.attention(), c, tp, tr, arena, l) : in.attention();
                Weights.Mlp mlp = in.mlp() == null ? null : tp > 1 ? mlp(in.mlp(), tp, tr, arena, "layer " + l + " mlp") : in.mlp();
                Weights.Moe moe = null;
                if (in.moe() != null) {
                    Weights.Moe m = in.moe();
                    Weights.Mlp[] experts = new Weights.Mlp[m.experts().length];
                    for (int e = 0; e < experts.length; e++) {
                        if (ep) {
                            if (plan.placement().owner(e, experts.length, plan.ranks()) == rank) experts[e] = m.experts()[e];
                        } else {
                            experts[e] = tp > 1 ? mlp(m.experts()[e], tp, tr, arena, "layer " + l + " expert " + e) : m.experts()[e];
                        }
                    }
                    // under EP the shared expert runs whole on each rank's own tokens
                    Weights.Mlp shared = m.shared() == null || ep || tp == 1 ? m.shared() : mlp(m.shared(), tp, tr, arena, "layer " + l + " shared expert");
                    moe = new Weights.Moe(m.router(), experts, shared, m.sharedGate());
                }
                layers[l] = new Weights.Layer(in.attnNorm(), a, in.mlpNorm(), mlp, moe);
            }
            Weights.Model sw = new Weights.Model(w.embedding(), layers, w.finalNorm(), w.lmHead());
            return new ModelShard(c, localConfig(c, plan), sw, rank, plan, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Weights.Attention attention(Weights.Attention a, ModelConfig c, int tp, int r, Arena arena, int l) {
        int hd = c.headDim();
        int q = c.heads() / tp * hd, kv = c.kvHeads() / tp * hd;
        String at = "layer " + l + " attention ";
        return new Weights.Attention(
                WeightSlices.rows(a.q(), (long) r * q, q, at + "q"),
                WeightSlices.rows(a.k(), (long) r * kv, kv, at + "k"),
                WeightSlices.rows(a.v(), (long) r * kv, kv, at + "v"),
                WeightSlices.columns(a.o(), (long) r * q, q, arena, at + "o"),
                WeightSlices.range(a.qBias(), r * q, q), WeightSlices.range(a.kBias(), r * kv, kv), WeightSlices.range(a.vBias(), r * kv, kv),
                a.qNorm(), a.kNorm());
    }

    private static Weights.Mlp mlp(Weights.Mlp m, int tp, int r, Arena arena, String what) {
        long f = m.gate().rows() / tp;
        return new Weights.Mlp(WeightSlices.rows(m.gate(), r * f, f, what + " gate"), WeightSlices.rows(m.up(), r * f, f, what + " up"),
                WeightSlices.columns(m.down(), r * f, f, arena, what + " down"));
    }

    /** The shape one rank computes: its heads and its share of the widths that tp splits. */
    static ModelConfig localConfig(ModelConfig c, ParallelPlan plan) {
        int tp = plan.tp();
        boolean splitExperts = !plan.expertParallel();
        return new ModelConfig(c.family(), c.hiddenSize(), c.intermediateSize() / tp, c.layers(), c.heads() / tp, c.kvHeads() / tp,
                c.headDim(), c.vocabSize(), c.maxContext(), c.rmsEps(), c.ropeTheta(), c.ropeScaling(), c.ropeStyle(), c.tiedEmbeddings(),
                c.attentionBias(), c.experts(), c.expertsPerToken(), splitExperts ? c.moeIntermediate() / tp : c.moeIntermediate(),
                splitExperts ? c.sharedExpertIntermediate() / tp : c.sharedExpertIntermediate(), c.normTopK(), c.sparseStep(),
                c.denseLayers(), c.bosId(), c.eosId());
    }

    @Override
    public void close() {
        arena.close();
    }
}
