package dev.bitcap.quant;

/**
 * Binarization of a set of weights, as BiLLM defines it: order 1 is B(w) = μ + α·sign(w − μ) with μ = mean(w) and
 * α = mean|w − μ| (the least-squares α for those signs); order 2 applies it again to the residual w − B(w) and adds
 * the two. Sets are given as a mask over an array. Error functions work in double on the unrounded parameters (for
 * searches); the fit functions round the parameters to the fp16 values that will be stored.
 */
final class Binarize {
    private Binarize() {}

    /** Σ(w − B(w))² over {@code sorted[a..b)}: Σ(w − μ)² − (Σ|w − μ|)²/n. */
    static double order1Error(double[] sorted, int a, int b) {
        int n = b - a;
        if (n <= 1) return 0;
        double mean = 0;
        for (int i = a; i < b; i++) mean += sorted[i];
        mean /= n;
        double abs = 0, sq = 0;
        for (int i = a; i < b; i++) {
            double d = sorted[i] - mean;
            abs += Math.abs(d);
            sq += d * d;
        }
        return Math.max(0, sq - abs * abs / n);
    }

    /** Σ(w − B₂(w))² over the masked entries of {@code v[from..to)}, B₂ the order-2 (residual) binarization. */
    static double order2Error(double[] v, boolean[] in, int from, int to) {
        int n = 0;
        double mean = 0;
        for (int i = from; i < to; i++) {
            if (!in[i]) continue;
            mean += v[i];
            n++;
        }
        if (n <= 2) return 0;
        mean /= n;
        double alpha = 0;
        for (int i = from; i < to; i++) if (in[i]) alpha += Math.abs(v[i] - mean);
        alpha /= n;
        double mean2 = 0;
        for (int i = from; i < to; i++) if (in[i]) mean2 += residual(v[i], mean, alpha);
        mean2 /= n;
        double abs = 0, sq = 0;
        for (int i = from; i < to; i++) {
            if (!in[i]) continue;
            double d = residual(v[i], mean, alpha) - mean2;
            abs += Math.abs(d);
            sq += d * d;
        }
        return Math.max(0, sq - abs * abs / n);
    }

    private static double residual(double w, double mean, double alpha) {
        return w - (w >= mean ? mean + alpha : mean - alpha);
    }

    /** Order-1 parameters μ, α of the masked entries of v, fp16-rounded, into {@code p[off]}, {@code p[off+1]}; 0, 0 when empty. */
    static void fitOrder1(double[] v, boolean[] in, float[] p, int off) {
        double[] ma = meanAndAlpha(v, in);
        p[off] = Fp16.round((float) ma[0]);
        p[off + 1] = Fp16.round((float) ma[1]);
    }

    /**
     * Order-2 parameters of the masked entries of v as stored: μ₁ + μ₂, α₁, α₂ (fp16) into {@code p[off..off+2]}.
     * The residual is taken against the rounded first-order values, so the second order corrects what is stored.
     */
    static void fitOrder2(double[] v, boolean[] in, float[] p, int off) {
        double[] ma = meanAndAlpha(v, in);
        float mu1 = Fp16.round((float) ma[0]), a1 = Fp16.round((float) ma[1]);
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) if (in[i]) r[i] = v[i] - (v[i] >= mu1 ? (double) mu1 + a1 : (double) mu1 - a1);
        double[] mb = meanAndAlpha(r, in);
        float mu2 = Fp16.round((float) mb[0]);
        p[off] = Fp16.round(mu1 + mu2);
        p[off + 1] = a1;
        p[off + 2] = Fp16.round((float) mb[1]);
    }

    private static double[] meanAndAlpha(double[] v, boolean[] in) {
        int n = 0;
        double mean = 0;
        for (int i = 0; i < v.length; i++) {
            if (!in[i]) continue;
            mean += v[i];
            n++;
        }
        if (n == 0) return new double[2];
        mean /= n;
        double alpha = 0;
        for (int i = 0; i < v.length; i++) if (in[i]) alpha += Math.abs(v[i] - mean);
        return new double[] {mean, alpha / n};
    }

    /** The first {@code n} values of v ordered by |v| ascending (ties: original order). */
    static double[] sortByMagnitude(double[] v, int n) {
        double[] out = new double[n];
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> {
            int c = Double.compare(Math.abs(v[a]), Math.abs(v[b]));
            return c != 0 ? c : Integer.compare(a, b);
        });
        for (int i = 0; i < n; i++) out[i] = v[idx[i]];
        return out;
    }
}
