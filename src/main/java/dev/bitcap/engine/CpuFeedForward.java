package dev.bitcap.engine;

import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.Ops;

/**
 * The feed-forward half of a layer on the CPU: a SwiGLU MLP, or a MoE block that routes each token to its
 * top-k experts, runs every chosen expert once over all the tokens that chose it, and adds the shared expert.
 */
public final class CpuFeedForward {
    private final ModelConfig c;

    public CpuFeedForward(ModelConfig config) {
        this.c = config;
    }

    /** down(silu(gate x) * up x) for n tokens of {@code x}, added to {@code out} scaled per token (null = 1). */
    public static void mlp(Weights.Mlp w, float[] x, int n, float[] out, float[] tokenScale) {
        int f = (int) w.gate().rows(), d = (int) w.down().rows();
        float[] g = new float[n * f], u = new float[n * f], y = new float[n * d];
        w.gate().matmul(x, g, n);
        w.up().matmul(x, u, n);
        Ops.swiglu(g, 0, u, 0, n * f);
        w.down().matmul(g, y, n);
        if (tokenScale == null) {
            Ops.add(out, 0, y, 0, n * d);
        } else {
            for (int t = 0; t < n; t++) Ops.axpy(tokenScale[t], y, t * d, out, t * d, d);
        }
    }

    /**
     * Routes n tokens of {@code xn} and adds the MoE output to {@code residual}.
     *
     * @return the top-k expert ids per token (token-major), for the pass record
     */
    public int[] moe(int layer, Weights.Moe w, float[] xn, int n, float[] residual, ForwardObserver observer) {
        int d = c.hiddenSize(), e = c.experts(), k = c.expertsPerToken();
        float[] logits = new float[n * e];
        w.router().matmul(xn, logits, n);
        observer.routerLogits(layer, logits.clone(), n, e);
        ExpertRouting routing = ExpertRouting.route(c, logits, n);
        int[] chosen = routing.chosen(), perExpert = routing.perExpert();
        float[] weight = routing.weight();
        // Each expert runs once, as a GEMM over the tokens routed to it.
        for (int ex = 0; ex < e; ex++) {
            int m = perExpert[ex];
            if (m == 0) continue;
            int[] tokens = new int[m];
            float[] scale = new float[m];
            float[] xs = new float[m * d];
            int r = 0;
            for (int i = 0; i < n * k; i++) {
                if (chosen[i] != ex) continue;
                int t = i / k;
                tokens[r] = t;
                scale[r] = weight[i];
                System.arraycopy(xn, t * d, xs, r * d, d);
                r++;
            }
            float[] ys = new float[m * d];
            mlp(w.experts()[ex], xs, m, ys, scale);
            for (int j = 0; j < m; j++) Ops.add(residual, tokens[j] * d, ys, j * d, d);
        }
        if (w.shared() != null) {
            float[] gate = null;
            if (w.sharedGate() != null) {
                gate = new float[n];
                for (int t = 0; t < n; t++) gate[t] = sigmoid(Ops.dot(w.sharedGate(), 0, xn, t * d, d));
            }
            mlp(w.shared(), xn, n, residual, gate);
        }
        return chosen;
    }

    private static float sigmoid(float v) {
        return (float) (1.0 / (1.0 + Math.exp(-v)));
    }
}
