package dev.bitcap.cuda;

import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.WeightMatrix;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A model's weights on the device, uploaded once: matrices in their stored dtype (a matrix stored once is uploaded
 * once, so tied embeddings share it), norms, biases and RoPE frequencies as fp32 buffers (0 where the model has none).
 * A null matrix stays null: under expert parallelism a rank's shard lacks the experts other ranks own.
 */
final class DeviceWeights {
    record Mlp(DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down) {}

    record Layer(long attnNorm, DeviceMatrix q, DeviceMatrix k, DeviceMatrix v, DeviceMatrix o, long qBias, long kBias, long vBias,
                 long qNorm, long kNorm, long mlpNorm, Mlp mlp, DeviceMatrix router, Mlp[] experts, Mlp shared, long sharedGate) {}

    final DeviceMatrix embedding, lmHead;
    final Layer[] layers;
    final long finalNorm, invFreq;
    private final CudaDevice device;
    private final Map<Object, DeviceMatrix> uploaded = new IdentityHashMap<>();

    /** {@code w}'s weights (one rank's shard or the whole model); {@code c} the whole model's config (its RoPE). */
    DeviceWeights(CudaDevice device, Weights.Model w, ModelConfig c) {
        this.device = device;
        this.embedding = matrix(w.embedding());
        this.lmHead = matrix(w.lmHead());
        this.layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) layers[l] = layer(w.layers()[l]);
        this.finalNorm = floats(w.finalNorm());
        this.invFreq = floats(c.ropeScaling().inverseFrequencies(c.headDim(), c.ropeTheta()));
    }

    private DeviceMatrix matrix(WeightMatrix m) {
        return m == null ? null : uploaded.computeIfAbsent(m, key -> DeviceMatrix.upload(device, m));
    }

    private Mlp mlp(Weights.Mlp m) {
        return m == null ? null : new Mlp(matrix(m.gate()), matrix(m.up()), matrix(m.down()));
    }

    private Layer layer(Weights.Layer l) {
        Weights.Attention a = l.attention();
        DeviceMatrix router = null;
        Mlp[] experts = null;
        Mlp shared = null;
        long sharedGate = 0;
        if (l.moe() != null) {
            router = matrix(l.moe().router());
            experts = new Mlp[l.moe().experts().length];
            for (int e = 0; e < experts.length; e++) experts[e] = mlp(l.moe().experts()[e]);
            shared = mlp(l.moe().shared());
            sharedGate = floats(l.moe().sharedGate());
        }
        return new Layer(floats(l.attnNorm()), matrix(a.q()), matrix(a.k()), matrix(a.v()), matrix(a.o()), floats(a.qBias()),
                floats(a.kBias()), floats(a.vBias()), floats(a.qNorm()), floats(a.kNorm()), floats(l.mlpNorm()), mlp(l.mlp()), router,
                experts, shared, sharedGate);
    }

    private long floats(float[] values) {
        return values == null ? 0 : device.upload(values);
    }
}
