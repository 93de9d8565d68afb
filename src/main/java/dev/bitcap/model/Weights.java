package dev.bitcap.model;

import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;

/**
 * The weights of a loaded model, grouped by block. Matrices are {@link WeightMatrix}es: {@link Tensor}s over the
 * mapped file in their stored dtype, or packed quantized matrices; the small vectors (norms, biases) are copied to
 * float arrays. The embedding stays a tensor, because it is read by row rather than multiplied.
 */
public final class Weights {
    private Weights() {}

    /** A SwiGLU MLP: down(silu(gate x) * up x). */
    public record Mlp(WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
        public long bytes() {
            return gate.byteSize() + up.byteSize() + down.byteSize();
        }
    }

    /** Routed experts, their router, and the optional shared expert with its sigmoid gate. */
    public record Moe(WeightMatrix router, Mlp[] experts, Mlp shared, float[] sharedGate) {}

    public record Attention(WeightMatrix q, WeightMatrix k, WeightMatrix v, WeightMatrix o, float[] qBias, float[] kBias, float[] vBias,
                            float[] qNorm, float[] kNorm) {}

    /** One decoder layer; exactly one of {@code mlp} and {@code moe} is set. */
    public record Layer(float[] attnNorm, Attention attention, float[] mlpNorm, Mlp mlp, Moe moe) {}

    public record Model(Tensor embedding, Layer[] layers, float[] finalNorm, WeightMatrix lmHead) {}

    /** Replaces every weight matrix (not the embedding) by what {@code f} makes of it; the rest is shared. */
    public static Model mapMatrices(Model m, java.util.function.BiFunction<MatrixSlot, WeightMatrix, WeightMatrix> f) {
        Layer[] layers = new Layer[m.layers().length];
        for (int l = 0; l < layers.length; l++) {
            Layer in = m.layers()[l];
            int layer = l;
            Attention a = in.attention();
            Attention att = new Attention(f.apply(new MatrixSlot(WeightRole.Q, l, -1), a.q()), f.apply(new MatrixSlot(WeightRole.K, l, -1), a.k()),
                    f.apply(new MatrixSlot(WeightRole.V, l, -1), a.v()), f.apply(new MatrixSlot(WeightRole.O, l, -1), a.o()),
                    a.qBias(), a.kBias(), a.vBias(), a.qNorm(), a.kNorm());
            Mlp mlp = in.mlp() == null ? null : mapMlp(in.mlp(), (role, w) -> f.apply(new MatrixSlot(role, layer, -1), w),
                    WeightRole.GATE, WeightRole.UP, WeightRole.DOWN);
            Moe moe = null;
            if (in.moe() != null) {
                Moe o = in.moe();
                Mlp[] experts = new Mlp[o.experts().length];
                for (int e = 0; e < experts.length; e++) {
                    int expert = e;
                    experts[e] = mapMlp(o.experts()[e], (role, w) -> f.apply(new MatrixSlot(role, layer, expert), w),
                            WeightRole.EXPERT_GATE, WeightRole.EXPERT_UP, WeightRole.EXPERT_DOWN);
                }
                Mlp shared = o.shared() == null ? null : mapMlp(o.shared(), (role, w) -> f.apply(new MatrixSlot(role, layer, -1), w),
                        WeightRole.SHARED_GATE, WeightRole.SHARED_UP, WeightRole.SHARED_DOWN);
                moe = new Moe(f.apply(new MatrixSlot(WeightRole.ROUTER, l, -1), o.router()), experts, shared, o.sharedGate());
            }
            layers[l] = new Layer(in.attnNorm(), att, in.mlpNorm(), mlp, moe);
        }
        return new Model(m.embedding(), layers, m.finalNorm(), f.apply(new MatrixSlot(WeightRole.LM_HEAD, -1, -1), m.lmHead()));
    }

    private static Mlp mapMlp(Mlp m, java.util.function.BiFunction<WeightRole, WeightMatrix, WeightMatrix> f,
                              WeightRole gate, WeightRole up, WeightRole down) {
        return new Mlp(f.apply(gate, m.gate()), f.apply(up, m.up()), f.apply(down, m.down()));
    }
}
