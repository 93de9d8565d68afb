package dev.bitcap.quant;

import dev.bitcap.format.Llama2cCheckpoint;
import dev.bitcap.testing.SharedData;
import java.util.Random;

/**
 * Layers and calibration inputs for the calibration-algorithm tests, and the independent references they are
 * checked against (plain RTN, the layer output error), all in double where it matters.
 */
final class LayerStatisticsFixtures {
    private LayerStatisticsFixtures() {}

    /** A weight matrix with its calibration inputs. */
    record Layer(String name, float[] w, int rows, int cols, float[] x, int tokens) {}

    /**
     * A real stories260K layer ({@code q}, {@code w1} or {@code w2} of layer {@code l}) with inputs built from the
     * checkpoint itself: every vocabulary embedding, RMS-normalised and scaled by the layer's norm weight (exactly
     * layer 0's inputs for a first token; the same form, without the attention residual, for later layers); for
     * w2 the SwiGLU of w1 and w3 applied to those. 512 tokens.
     */
    static Layer stories(int l, String which) {
        try (Llama2cCheckpoint ck = Llama2cCheckpoint.open(SharedData.require("models/stories260K.bin"))) {
            String p = "model.layers." + l + ".";
            float[] emb = ck.tensor("model.embed_tokens.weight").toFloatArray();
            int dim = ck.header().dim(), hidden = ck.header().hiddenDim(), vocab = emb.length / dim;
            String norm = which.equals("q") ? "input_layernorm" : "post_attention_layernorm";
            float[] x = rmsNormed(emb, vocab, dim, ck.tensor(p + norm + ".weight").toFloatArray());
            return switch (which) {
                case "q" -> new Layer(p + "q", ck.tensor(p + "self_attn.q_proj.weight").toFloatArray(), dim, dim, x, vocab);
                case "w1" -> new Layer(p + "w1", ck.tensor(p + "mlp.gate_proj.weight").toFloatArray(), hidden, dim, x, vocab);
                case "w2" -> {
                    float[] gate = matmul(x, vocab, dim, ck.tensor(p + "mlp.gate_proj.weight").toFloatArray(), hidden);
                    float[] up = matmul(x, vocab, dim, ck.tensor(p + "mlp.up_proj.weight").toFloatArray(), hidden);
                    float[] h = new float[gate.length];
                    for (int i = 0; i < h.length; i++) h[i] = (float) (gate[i] / (1 + Math.exp(-gate[i])) * up[i]);
                    yield new Layer(p + "w2", ck.tensor(p + "mlp.down_proj.weight").toFloatArray(), dim, hidden, h, vocab);
                }
                default -> throw new IllegalArgumentException(which);
            };
        }
    }

    private static float[] rmsNormed(float[] emb, int tokens, int dim, float[] weight) {
        float[] x = new float[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            double ss = 0;
            for (int j = 0; j < dim; j++) ss += (double) emb[t * dim + j] * emb[t * dim + j];
            double inv = 1 / Math.sqrt(ss / dim + 1e-5);
            for (int j = 0; j < dim; j++) x[t * dim + j] = (float) (emb[t * dim + j] * inv * weight[j]);
        }
        return x;
    }

    /** x (tokens x in) times wᵀ (w: out x in). */
    static float[] matmul(float[] x, int tokens, int in, float[] w, int out) {
        float[] y = new float[tokens * out];
        for (int t = 0; t < tokens; t++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int j = 0; j < in; j++) s += (double) x[t * in + j] * w[o * in + j];
                y[t * out + o] = (float) s;
            }
        }
        return y;
    }

    /** Gaussian weights. */
    static float[] gaussian(Random rnd, int n, double sigma) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * sigma);
        return v;
    }

    /** Gaussian activations, with {@code loud} of the columns scaled by {@code factor} (LLM-style outlier channels). */
    static float[] activations(Random rnd, int tokens, int cols, int loud, double factor) {
        float[] x = gaussian(rnd, tokens * cols, 1);
        for (int k = 0; k < loud; k++) {
            int c = (k * 7919 + 13) % cols;
            for (int t = 0; t < tokens; t++) x[t * cols + c] *= (float) factor;
        }
        return x;
    }

    /** Plain round-to-nearest: each group fitted on its own [min(min, 0), max(max, 0)], written independently here. */
    static GroupQuantized rtn(QuantFormat f, float[] w, int rows, int cols, int g) {
        int groups = GroupQuantized.groupsPerRow(cols, g), pc = f.paramCount();
        int[] codes = new int[rows * cols];
        float[] params = new float[rows * groups * pc];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < groups; k++) {
                int off = r * cols + k * g, len = Math.min(g, cols - k * g), p = (r * groups + k) * pc;
                float lo = 0, hi = 0;
                for (int i = 0; i < len; i++) {
                    lo = Math.min(lo, w[off + i]);
                    hi = Math.max(hi, w[off + i]);
                }
                f.fit(w, off, len, lo, hi, params, p);
                for (int i = 0; i < len; i++) codes[off + i] = f.encode(w[off + i], params, p);
            }
        }
        return new GroupQuantized(f, rows, cols, g, codes, params);
    }

    /** The dequantized matrix divided column-wise by {@code columnScale} (null: 1), in double. */
    static double[] dequantized(GroupQuantized q, float[] columnScale) {
        double[] d = new double[q.rows() * q.cols()];
        for (int r = 0; r < q.rows(); r++) {
            for (int c = 0; c < q.cols(); c++) {
                double v = q.dequantize(r, c);
                d[r * q.cols() + c] = columnScale == null ? v : v * columnScale[c];
            }
        }
        return d;
    }

    /** ||(Q − W)·Xᵀ||² over all rows and tokens, in double. */
    static double outputError(double[] q, float[] w, int rows, int cols, float[] x, int tokens) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < tokens; t++) {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (q[r * cols + c] - w[r * cols + c]) * x[t * cols + c];
                total += s * s;
            }
        }
        return total;
    }

    /** Mean over tokens of (x_g·(Q(w_g) − w_g))² for group {@code k} of row {@code r}, in double. */
    static double groupError(double[] q, float[] w, int cols, int g, int r, int k, float[] x, int tokens) {
        double total = 0;
        int c0 = k * g, c1 = Math.min(cols, c0 + g);
        for (int t = 0; t < tokens; t++) {
            double s = 0;
            for (int c = c0; c < c1; c++) s += (q[r * cols + c] - w[r * cols + c]) * x[t * cols + c];
            total += s * s;
        }
        return total / tokens;
    }

    /** H = 2·XᵀX/n in double, computed directly. */
    static double[] hessian(float[] x, int tokens, int cols) {
        double[] h = new double[cols * cols];
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < cols; j++) h[i * cols + j] += (double) x[t * cols + i] * x[t * cols + j];
            }
        }
        for (int i = 0; i < h.length; i++) h[i] *= 2.0 / tokens;
        return h;
    }
}
