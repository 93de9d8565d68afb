package dev.bitcap.model;

import java.util.ArrayList;
import java.util.List;

/** Every weight tensor a {@link ModelConfig} implies, with its role and shape, in checkpoint order. */
public final class TensorInventory {
    /** One tensor: its role, layer and expert (-1 when not applicable), and shape outermost-first. */
    public record Entry(WeightRole role, int layer, int expert, long[] shape) {
        public boolean isMatrix() {
            return shape.length == 2 && role != WeightRole.SHARED_EXPERT_GATE;
        }

        /** Input width of a matrix (fan-in). */
        public long fanIn() {
            return shape[shape.length - 1];
        }
    }

    private TensorInventory() {}

    public static List<Entry> of(ModelConfig c) {
        List<Entry> out = new ArrayList<>();
        long d = c.hiddenSize();
        out.add(new Entry(WeightRole.EMBED, -1, -1, new long[] {c.vocabSize(), d}));
        boolean bias = c.attentionBias() || c.family().qkvBias();
        for (int l = 0; l < c.layers(); l++) {
            out.add(new Entry(WeightRole.ATTN_NORM, l, -1, new long[] {d}));
            out.add(new Entry(WeightRole.Q, l, -1, new long[] {c.qDim(), d}));
            out.add(new Entry(WeightRole.K, l, -1, new long[] {c.kvDim(), d}));
            out.add(new Entry(WeightRole.V, l, -1, new long[] {c.kvDim(), d}));
            out.add(new Entry(WeightRole.O, l, -1, new long[] {d, c.qDim()}));
            if (bias) {
                out.add(new Entry(WeightRole.Q_BIAS, l, -1, new long[] {c.qDim()}));
                out.add(new Entry(WeightRole.K_BIAS, l, -1, new long[] {c.kvDim()}));
                out.add(new Entry(WeightRole.V_BIAS, l, -1, new long[] {c.kvDim()}));
            }
            if (c.family().qkNorm()) {
                out.add(new Entry(WeightRole.Q_NORM, l, -1, new long[] {c.headDim()}));
                out.add(new Entry(WeightRole.K_NORM, l, -1, new long[] {c.headDim()}));
            }
            out.add(new Entry(WeightRole.MLP_NORM, l, -1, new long[] {d}));
            if (!c.isMoeLayer(l)) {
                mlp(out, l, -1, WeightRole.GATE, WeightRole.UP, WeightRole.DOWN, c.intermediateSize(), d);
                continue;
            }
            out.add(new Entry(WeightRole.ROUTER, l, -1, new long[] {c.experts(), d}));
            for (int e = 0; e < c.experts(); e++) {
                mlp(out, l, e, WeightRole.EXPERT_GATE, WeightRole.EXPERT_UP, WeightRole.EXPERT_DOWN, c.moeIntermediate(), d);
            }
            if (c.hasSharedExpert()) {
                mlp(out, l, -1, WeightRole.SHARED_GATE, WeightRole.SHARED_UP, WeightRole.SHARED_DOWN, c.sharedExpertIntermediate(), d);
                out.add(new Entry(WeightRole.SHARED_EXPERT_GATE, l, -1, new long[] {1, d}));
            }
        }
        out.add(new Entry(WeightRole.FINAL_NORM, -1, -1, new long[] {d}));
        if (!c.tiedEmbeddings()) out.add(new Entry(WeightRole.LM_HEAD, -1, -1, new long[] {c.vocabSize(), d}));
        return out;
    }

    private static void mlp(List<Entry> out, int l, int e, WeightRole gate, WeightRole up, WeightRole down, long f, long d) {
        out.add(new Entry(gate, l, e, new long[] {f, d}));
        out.add(new Entry(up, l, e, new long[] {f, d}));
        out.add(new Entry(down, l, e, new long[] {d, f}));
    }
}
