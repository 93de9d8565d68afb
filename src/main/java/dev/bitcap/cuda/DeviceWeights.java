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
    /** {@code gateUp}: gate's rows then up's in one matrix, of which gate and up are views (null where they differ in format). */
    record Mlp(DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down, DeviceMatrix gateUp) {
        Mlp(DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down) {
            this(gate, up, down, null);
        }
    }

    /** {@code qkv}: q's, k's and v's rows in one matrix, of which q, k and v are views (null where they differ in format). */
    record Layer(long attnNorm, DeviceMatrix q, DeviceMatrix k, DeviceMatrix v, DeviceMatrix qkv, DeviceMatrix o, long qBias, long kBias,
                 long vBias, long qNorm, long kNorm, long mlpNorm, Mlp mlp, DeviceMatrix router, Mlp[] experts, Mlp shared, long sharedGate) {}

    /**
     * {@code BITCAP_FUSE=0} uploads q, k, v, gate and up as separate matrices, for comparisons. Otherwise each set that
     * shares a format is stacked: decode then runs one GEMV for q, k and v and one for gate and up (fewer launches, and
     * a grid that fills the GPU where k and v alone would not).
     */
    static final String FUSE_ENV = "BITCAP_FUSE";
    private final boolean stack = stackingOn(System.getenv(FUSE_ENV));

    static boolean stackingOn(String variable) {
        return variable == null || !variable.trim().equals("0");
    }

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

    /** A dense MLP with gate and up stacked where they can be (routed experts stay apart: CudaMoe groups them itself). */
    private Mlp stackedMlp(Weights.Mlp m) {
        DeviceMatrix gateUp = m == null ? null : stacked(m.gate(), m.up());
        if (gateUp == null) return mlp(m);
        int f = (int) m.gate().rows();
        return new Mlp(gateUp.rowSlice(0, f), gateUp.rowSlice(f, (int) m.up().rows()), matrix(m.down()), gateUp);
    }

    /** The parts in one device matrix, or null: stacking is off, a part is missing or shared, or their formats differ. */
    private DeviceMatrix stacked(WeightMatrix... parts) {
        if (!stack) return null;
        for (WeightMatrix p : parts) if (p == null || uploaded.containsKey(p)) return null;
        return DeviceMatrix.uploadStacked(device, java.util.List.of(parts));
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
            shared = stackedMlp(l.moe().shared());
            sharedGate = floats(l.moe().sharedGate());
        }
        DeviceMatrix qkv = stacked(a.q(), a.k(), a.v());
        DeviceMatrix q, k, v;
        if (qkv != null) {
            int qRows = (int) a.q().rows(), kRows = (int) a.k().rows();
            q = qkv.rowSlice(0, qRows);
            k = qkv.rowSlice(qRows, kRows);
            v = qkv.rowSlice(qRows + kRows, (int) a.v().rows());
        } else {
            q = matrix(a.q());
            k = matrix(a.k());
            v = matrix(a.v());
        }
        return new Layer(floats(l.attnNorm()), q, k, v, qkv, matrix(a.o()), floats(a.qBias()), floats(a.kBias()), floats(a.vBias()),
                floats(a.qNorm()), floats(a.kNorm()), floats(l.mlpNorm()), stackedMlp(l.mlp()), router, experts, shared, sharedGate);
    }

    private long floats(float[] values) {
        return values == null ? 0 : device.upload(values);
    }
}
