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
}
