package dev.bitcap.model;

import dev.bitcap.BitcapException;
import dev.bitcap.format.PackedMatrixIo;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.util.Arrays;

/**
 * Binds a checkpoint's tensors to the blocks a {@link ModelConfig} describes, checking every shape against
 * the config so that a mismatched file fails at load with the tensor named, not later with a wrong answer.
 */
public final class WeightBinder {
    private final TensorSource source;
    private final WeightLayout layout;
    private final ModelConfig c;
    private final String origin;
    private final QuantizationConfig quantization;

    public WeightBinder(TensorSource source, WeightLayout layout, ModelConfig config, String origin) {
        this(source, layout, config, origin, null);
    }

    /** With {@code quantization} set, matrices stored packed (see {@link QuantizationConfig}) bind as quantized tensors. */
    public WeightBinder(TensorSource source, WeightLayout layout, ModelConfig config, String origin, QuantizationConfig quantization) {
        this.source = source;
        this.layout = layout;
        this.c = config;
        this.origin = origin;
        this.quantization = quantization;
    }

    public Weights.Model bind() {
        int d = c.hiddenSize();
        Tensor embed = tensor(WeightRole.EMBED, -1, -1, c.vocabSize(), d);
        Weights.Layer[] layers = new Weights.Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) layers[l] = layer(l);
        float[] finalNorm = vector(WeightRole.FINAL_NORM, -1, d, true);
        WeightMatrix head = packed(WeightRole.LM_HEAD, -1, -1, c.vocabSize(), d);
        if (head == null) {
            Tensor t = layout.find(source, WeightRole.LM_HEAD, -1, -1);
            if (t == null) {
                head = embed; // tied embeddings (or a file that omits the head because it is tied)
            } else {
                checkShape(t, WeightRole.LM_HEAD, -1, -1, c.vocabSize(), d);
                head = t;
            }
        }
        return new Weights.Model(embed, layers, finalNorm, head);
    }

    private Weights.Layer layer(int l) {
        int d = c.hiddenSize();
        boolean bias = c.attentionBias() || c.family().qkvBias();
        var attn = new Weights.Attention(
                matrix(WeightRole.Q, l, -1, c.qDim(), d),
                matrix(WeightRole.K, l, -1, c.kvDim(), d),
                matrix(WeightRole.V, l, -1, c.kvDim(), d),
                matrix(WeightRole.O, l, -1, d, c.qDim()),
                vector(WeightRole.Q_BIAS, l, c.qDim(), bias),
                vector(WeightRole.K_BIAS, l, c.kvDim(), bias),
                vector(WeightRole.V_BIAS, l, c.kvDim(), bias),
                vector(WeightRole.Q_NORM, l, c.headDim(), c.family().qkNorm()),
                vector(WeightRole.K_NORM, l, c.headDim(), c.family().qkNorm()));
        float[] attnNorm = vector(WeightRole.ATTN_NORM, l, d, true);
        float[] mlpNorm = vector(WeightRole.MLP_NORM, l, d, true);
        if (!c.isMoeLayer(l)) {
            var mlp = new Weights.Mlp(matrix(WeightRole.GATE, l, -1, c.intermediateSize(), d),
                    matrix(WeightRole.UP, l, -1, c.intermediateSize(), d),
                    matrix(WeightRole.DOWN, l, -1, d, c.intermediateSize()));
            return new Weights.Layer(attnNorm, attn, mlpNorm, mlp, null);
        }
        Weights.Mlp[] experts = new Weights.Mlp[c.experts()];
        int f = c.moeIntermediate();
        for (int e = 0; e < experts.length; e++) {
            experts[e] = new Weights.Mlp(matrix(WeightRole.EXPERT_GATE, l, e, f, d), matrix(WeightRole.EXPERT_UP, l, e, f, d),
                    matrix(WeightRole.EXPERT_DOWN, l, e, d, f));
        }
        Weights.Mlp shared = null;
        float[] sharedGate = null;
        if (c.hasSharedExpert()) {
            int s = c.sharedExpertIntermediate();
            shared = new Weights.Mlp(matrix(WeightRole.SHARED_GATE, l, -1, s, d), matrix(WeightRole.SHARED_UP, l, -1, s, d),
                    matrix(WeightRole.SHARED_DOWN, l, -1, d, s));
            Tensor g = layout.find(source, WeightRole.SHARED_EXPERT_GATE, l, -1);
            if (g != null) {
                if (g.elementCount() != d) throw shapeError(g, WeightRole.SHARED_EXPERT_GATE, l, -1, 1, d);
                sharedGate = g.toFloatArray();
            }
        }
        var moe = new Weights.Moe(matrix(WeightRole.ROUTER, l, -1, c.experts(), d), experts, shared, sharedGate);
        return new Weights.Layer(attnNorm, attn, mlpNorm, null, moe);
    }

    private WeightMatrix matrix(WeightRole role, int l, int e, long rows, long cols) {
        WeightMatrix q = packed(role, l, e, rows, cols);
        return q != null ? q : tensor(role, l, e, rows, cols);
    }

    /** The matrix stored packed under its usual name, or null. */
    private WeightMatrix packed(WeightRole role, int l, int e, long rows, long cols) {
        if (quantization == null) return null;
        String name = layout.describe(role, l, e);
        if (!PackedMatrixIo.isPacked(source, name)) return null;
        if (quantization.isBinary()) return PackedMatrixIo.readBinary(source, name, (int) rows, (int) cols, origin);
        return PackedMatrixIo.read(source, name, quantization, (int) rows, (int) cols, origin);
    }

    private Tensor tensor(WeightRole role, int l, int e, long rows, long cols) {
        Tensor t = layout.find(source, role, l, e);
        if (t == null) throw new BitcapException(origin + ": missing tensor " + layout.describe(role, l, e));
        checkShape(t, role, l, e, rows, cols);
        return t.rank() == 2 ? t : t.reshape(rows, cols);
    }

    private void checkShape(Tensor t, WeightRole role, int l, int e, long rows, long cols) {
        boolean ok = t.rank() == 2 ? t.dim(0) == rows && t.dim(1) == cols : t.elementCount() == rows * cols && t.cols() == cols;
        if (!ok) throw shapeError(t, role, l, e, rows, cols);
        if (!(t.dtype().isFloat() || t.dtype() == DType.Q8_0 || t.dtype() == DType.Q4_0)) {
            throw new BitcapException(origin + ": tensor " + layout.describe(role, l, e) + " has dtype " + t.dtype() + ", not a weight type");
        }
    }

    private BitcapException shapeError(Tensor t, WeightRole role, int l, int e, long... expected) {
        return new BitcapException(origin + ": tensor " + layout.describe(role, l, e) + " has shape " + Arrays.toString(t.shape())
                + " but the config implies " + Arrays.toString(expected));
    }

    /** A small vector copied to floats; absent optional vectors are null, absent required ones an error. */
    private float[] vector(WeightRole role, int l, int n, boolean required) {
        Tensor t = layout.find(source, role, l, -1);
        if (t == null) {
            if (required) throw new BitcapException(origin + ": missing tensor " + layout.describe(role, l, -1));
            return null;
        }
        if (t.elementCount() != n) {
            throw new BitcapException(origin + ": tensor " + layout.describe(role, l, -1) + " has shape " + Arrays.toString(t.shape())
                    + " but the config implies [" + n + "]");
        }
        return t.toFloatArray();
    }
}
