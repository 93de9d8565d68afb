package dev.bitcap.model;

import dev.bitcap.tensor.Tensor;

/**
 * The weights of a loaded model, grouped by block. Matrices stay {@link Tensor}s over the mapped file in their
 * stored dtype; the small vectors (norms, biases) are copied to float arrays.
 */
public final class Weights {
    private Weights() {}

    /** A SwiGLU MLP: down(silu(gate x) * up x). */
    public record Mlp(Tensor gate, Tensor up, Tensor down) {
        public long bytes() {
            return gate.byteSize() + up.byteSize() + down.byteSize();
        }
    }

    /** Routed experts, their router, and the optional shared expert with its sigmoid gate. */
    public record Moe(Tensor router, Mlp[] experts, Mlp shared, float[] sharedGate) {}

    public record Attention(Tensor q, Tensor k, Tensor v, Tensor o, float[] qBias, float[] kBias, float[] vBias,
                            float[] qNorm, float[] kNorm) {}

    /** One decoder layer; exactly one of {@code mlp} and {@code moe} is set. */
    public record Layer(float[] attnNorm, Attention attention, float[] mlpNorm, Mlp mlp, Moe moe) {}

    public record Model(Tensor embedding, Layer[] layers, float[] finalNorm, Tensor lmHead) {}
}
