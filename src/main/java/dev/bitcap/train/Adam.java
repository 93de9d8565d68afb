package dev.bitcap.train;

/** Adam (Kingma and Ba) with bias correction over a fixed list of parameter arrays, updated in place. */
final class Adam {
    private static final double BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;
    private final double[][] params;
    private final double[][] m;
    private final double[][] v;
    private int t;

    Adam(double[][] params) {
        this.params = params;
        this.m = new double[params.length][];
        this.v = new double[params.length][];
        for (int i = 0; i < params.length; i++) {
            m[i] = new double[params[i].length];
            v[i] = new double[params[i].length];
        }
    }

    /** One update with gradients {@code grads} (same shapes as the parameters) at learning rate {@code lr}. */
    void step(double[][] grads, double lr) {
        t++;
        double c1 = 1 - Math.pow(BETA1, t), c2 = 1 - Math.pow(BETA2, t);
        for (int a = 0; a < params.length; a++) {
            double[] p = params[a], g = grads[a], ma = m[a], va = v[a];
            for (int i = 0; i < p.length; i++) {
                ma[i] = BETA1 * ma[i] + (1 - BETA1) * g[i];
                va[i] = BETA2 * va[i] + (1 - BETA2) * g[i] * g[i];
                p[i] -= lr * (ma[i] / c1) / (Math.sqrt(va[i] / c2) + EPS);
            }
        }
    }
}
