package dev.bitcap.cap;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.tensor.WeightMatrix;
import java.util.Arrays;

/**
 * What each part of a model's decoder layers costs: parameters (for FLOPs) and stored bytes (for memory traffic),
 * per layer — attention projections, router, each routed expert, shared expert, dense MLP — plus the KV bytes one
 * position occupies over all layers. Built from a loaded model (each matrix's real bytes, scales included) or from a
 * config alone with a weight format (the format's true bits per weight), so a model too large to load can be costed.
 * Embedding and LM head are not part of it: MoE-CAP's S_activated counts the decoder layers only.
 *
 * @param expertBytes per layer and expert (an empty row for a dense layer)
 * @param kvBytesPerPosition bytes one position of one sequence occupies in the KV cache, all layers together
 */
public record ModelCosts(ModelConfig config, long attentionParams, long routerParams, long expertParams, long sharedParams,
                         long denseParams, double[] attentionBytes, double[] routerBytes, double[][] expertBytes,
                         double[] sharedBytes, double[] denseBytes, double kvBytesPerPosition, String weightLabel) {

    /** Q, K, V, O projections of one layer (biases and q/k norms are vectors, left out as MoE-CAP leaves them out). */
    static long attentionParams(ModelConfig c) {
        long d = c.hiddenSize();
        return d * c.qDim() + 2 * d * c.kvDim() + (long) c.qDim() * d;
    }

    /** From a loaded model: every matrix's stored bytes as it is held (quantized codes plus their fp16 parameters). */
    public static ModelCosts of(LoadedModel model, double kvBytesPerPosition, String weightLabel) {
        ModelConfig c = model.config();
        int layers = c.layers();
        double[] attn = new double[layers], router = new double[layers], shared = new double[layers], dense = new double[layers];
        double[][] experts = new double[layers][];
        for (int l = 0; l < layers; l++) {
            Weights.Layer layer = model.weights().layers()[l];
            var a = layer.attention();
            attn[l] = bytes(a.q(), a.k(), a.v(), a.o());
            if (layer.moe() == null) {
                experts[l] = new double[0];
                dense[l] = layer.mlp().bytes();
            } else {
                router[l] = layer.moe().router().byteSize();
                Weights.Mlp[] mlps = layer.moe().experts();
                experts[l] = new double[mlps.length];
                for (int e = 0; e < mlps.length; e++) experts[l][e] = mlps[e].bytes();
                if (layer.moe().shared() != null) shared[l] = layer.moe().shared().bytes();
            }
        }
        return new ModelCosts(c, attentionParams(c), routerParams(c), expertParams(c), sharedParams(c), denseParams(c),
                attn, router, experts, shared, dense, kvBytesPerPosition, weightLabel);
    }

    /**
     * From a config alone: matrices in {@code format} with groups of {@code groupSize} (null format: {@code baseBits}
     * per weight, e.g. 16 for bf16); routers stay at {@code baseBits}, as the quantizer keeps them.
     */
    public static ModelCosts of(ModelConfig c, QuantFormat format, int groupSize, double baseBits, double kvBitsPerElement,
                                String weightLabel) {
        int layers = c.layers();
        long d = c.hiddenSize();
        double[] attn = new double[layers], router = new double[layers], shared = new double[layers], dense = new double[layers];
        double[][] experts = new double[layers][];
        for (int l = 0; l < layers; l++) {
            attn[l] = matrixBytes(c.qDim(), d, format, groupSize, baseBits) + 2 * matrixBytes(c.kvDim(), d, format, groupSize, baseBits)
                    + matrixBytes(d, c.qDim(), format, groupSize, baseBits);
            if (c.isMoeLayer(l)) {
                router[l] = c.experts() * d * baseBits / 8;
                double one = mlpBytes(d, c.moeIntermediate(), format, groupSize, baseBits);
                experts[l] = new double[c.experts()];
                Arrays.fill(experts[l], one);
                if (c.hasSharedExpert()) shared[l] = mlpBytes(d, c.sharedExpertIntermediate(), format, groupSize, baseBits) + d * baseBits / 8;
            } else {
                experts[l] = new double[0];
                dense[l] = mlpBytes(d, c.intermediateSize(), format, groupSize, baseBits);
            }
        }
        double kv = 2.0 * c.layers() * c.kvDim() * kvBitsPerElement / 8;
        return new ModelCosts(c, attentionParams(c), routerParams(c), expertParams(c), sharedParams(c), denseParams(c),
                attn, router, experts, shared, dense, kv, weightLabel);
    }

    private static double mlpBytes(long d, long inter, QuantFormat f, int g, double baseBits) {
        return 2 * matrixBytes(inter, d, f, g, baseBits) + matrixBytes(d, inter, f, g, baseBits);
    }

    private static double matrixBytes(long rows, long cols, QuantFormat f, int g, double baseBits) {
        double bits = f == null ? baseBits : QuantFormats.bitsPerWeight(f, (int) cols, g);
        return rows * cols * bits / 8;
    }

    private static double bytes(WeightMatrix... ms) {
        double sum = 0;
        for (WeightMatrix m : ms) sum += m.byteSize();
        return sum;
    }

    static long routerParams(ModelConfig c) {
        return c.isMoe() ? (long) c.hiddenSize() * c.experts() : 0;
    }

    static long expertParams(ModelConfig c) {
        return 3L * c.hiddenSize() * c.moeIntermediate();
    }

    /** The shared expert's three matrices plus its sigmoid gate (one row of d). */
    static long sharedParams(ModelConfig c) {
        return c.hasSharedExpert() ? 3L * c.hiddenSize() * c.sharedExpertIntermediate() + c.hiddenSize() : 0;
    }

    static long denseParams(ModelConfig c) {
        return 3L * c.hiddenSize() * c.intermediateSize();
    }

    public int layers() {
        return config.layers();
    }

    public boolean isMoeLayer(int l) {
        return expertBytes[l].length > 0;
    }

    /** Parameters of all decoder layers: attention, routers, every expert, shared experts, dense MLPs. */
    public long totalLayerParams() {
        long total = 0;
        for (int l = 0; l < layers(); l++) {
            total += attentionParams;
            total += isMoeLayer(l) ? routerParams + config.experts() * expertParams + sharedParams : denseParams;
        }
        return total;
    }

    /** Stored bytes of all decoder layers. */
    public double totalLayerBytes() {
        double total = 0;
        for (int l = 0; l < layers(); l++) {
            total += attentionBytes[l] + routerBytes[l] + sharedBytes[l] + denseBytes[l];
            for (double e : expertBytes[l]) total += e;
        }
        return total;
    }
}
