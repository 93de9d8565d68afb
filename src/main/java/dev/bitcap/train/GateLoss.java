package dev.bitcap.train;

import dev.bitcap.attention.SeerGate;

/**
 * The gate's distillation loss for one layer of one window and its gradient, written out by hand: the mean over
 * heads and query blocks 1..nb-1 of KL(target row ‖ gate row), where the gate row is the softmax over causal key
 * blocks of scale·(RoPE(q-map(pooled Q)) · RoPE(k-map(pooled K))). Query block 0 has a single causal block, so
 * its KL is always 0 and it is left out of the mean. (SeerAttention's code averages KLDivLoss over every
 * element instead and scales by 10; a mean of row KLs in nats reads more directly.)
 */
public final class GateLoss {
    private GateLoss() {}

    /**
     * Loss of {@code layer} on {@code s}; when {@code gradQ}/{@code gradK} are not null, adds d(loss)/d(weights)
     * into them (same layout as {@link SeerGate#queryWeights} / {@link SeerGate#keyWeights}) times {@code weight}.
     */
    public static double compute(SeerGate gate, int layer, GateSample s, double[] gradQ, double[] gradK, double weight) {
        SeerGate.Shape sh = gate.shape();
        int nb = s.blocks(), heads = sh.heads(), kvHeads = sh.kvHeads(), hd = sh.headDim(), gd = sh.gateDim(), block = sh.block();
        int group = heads / kvHeads;
        if (nb < 2) return 0;
        double scale = gate.scale();
        double[] qa = new double[nb * heads * gd], kb = new double[nb * kvHeads * gd];
        for (int i = 0; i < nb; i++) {
            for (int h = 0; h < heads; h++) gate.query(layer, h, s.pooledQ(), (i * heads + h) * hd, i * block, qa, (i * heads + h) * gd);
            for (int g = 0; g < kvHeads; g++) gate.key(layer, g, s.pooledK(), (i * kvHeads + g) * 3 * hd, i * block, kb, (i * kvHeads + g) * gd);
        }
        boolean grad = gradQ != null;
        double[] dqa = grad ? new double[qa.length] : null, dkb = grad ? new double[kb.length] : null;
        double rows = (double) heads * (nb - 1), loss = 0;
        double[] z = new double[nb];
        for (int h = 0; h < heads; h++) {
            int g = h / group;
            for (int i = 1; i < nb; i++) {
                int qOff = (i * heads + h) * gd, tOff = (h * nb + i) * nb;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    int kOff = (j * kvHeads + g) * gd;
                    for (int o = 0; o < gd; o++) dot += qa[qOff + o] * kb[kOff + o];
                    z[j] = dot * scale;
                    max = Math.max(max, z[j]);
                }
                double sum = 0;
                for (int j = 0; j <= i; j++) sum += Math.exp(z[j] - max);
                double logSum = max + Math.log(sum);
                for (int j = 0; j <= i; j++) {
                    double t = s.target()[tOff + j], logP = z[j] - logSum;
                    if (t > 0) loss += t * (Math.log(t) - logP);
                    if (!grad) continue;
                    double dz = (Math.exp(logP) - t) / rows * weight * scale;
                    int kOff = (j * kvHeads + g) * gd;
                    for (int o = 0; o < gd; o++) {
                        dqa[qOff + o] += dz * kb[kOff + o];
                        dkb[kOff + o] += dz * qa[qOff + o];
                    }
                }
            }
        }
        if (grad) {
            // back through RoPE (its transpose is the rotation by minus the angle) and the linear maps
            for (int i = 0; i < nb; i++) {
                for (int h = 0; h < heads; h++) {
                    int off = (i * heads + h) * gd;
                    gate.rotate(dqa, off, i * block, true);
                    outer(s.pooledQ(), (i * heads + h) * hd, hd, dqa, off, gd, gradQ, h * hd * gd);
                }
                for (int g = 0; g < kvHeads; g++) {
                    int off = (i * kvHeads + g) * gd;
                    gate.rotate(dkb, off, i * block, true);
                    outer(s.pooledK(), (i * kvHeads + g) * 3 * hd, 3 * hd, dkb, off, gd, gradK, g * 3 * hd * gd);
                }
            }
        }
        return loss / rows;
    }

    /** grad[base + c·cols + o] += x[c] · dy[o]. */
    private static void outer(double[] x, int xOff, int rows, double[] dy, int dyOff, int cols, double[] grad, int base) {
        for (int c = 0; c < rows; c++) {
            double v = x[xOff + c];
            if (v == 0) continue;
            int r = base + c * cols;
            for (int o = 0; o < cols; o++) grad[r + o] += v * dy[dyOff + o];
        }
    }
}
