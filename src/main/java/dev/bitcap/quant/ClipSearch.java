package dev.bitcap.quant;

import dev.bitcap.tensor.Parallel;

/**
 * BitDistiller's asymmetric clipping search: for every row and group, try the clip ranges [β·min, α·max] with
 * α, β ∈ {1, 0.95, …, 0.55} (100 pairs), fit the format's parameters on each, and keep the pair whose quantized
 * group gives the smallest mean over calibration tokens of (x_g·(Q(w_g) − w_g))², the squared error of the
 * group's share of each output. Up to 512 calibration tokens.
 *
 * <p>The mean over tokens of (x_g·d)² equals dᵀ·G·d with G the group's block of XᵀX/T, so each group's block is
 * formed once and every candidate costs g² instead of T·g. Candidates are tried in grid order starting with
 * α = β = 1 (plain RTN) and only a strictly smaller error replaces the best so far, so no group ends worse than
 * RTN. The range passed to {@link QuantFormat#fit} always contains zero (lo = min(β·min, 0), hi = max(α·max, 0)),
 * as its contract asks.
 */
public final class ClipSearch {
    /** α and β run over 1, 0.95, …, 0.55: BitDistiller's n_grid 20 with max_shrink 0.5. */
    static final float[] SHRINK = {1f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f, 0.65f, 0.6f, 0.55f};

    private ClipSearch() {}

    /** Candidate clip ranges of one group, from the group's min and max (and |max| for symmetric searches). */
    interface Ranges {
        int count();

        /** Writes candidate {@code k}'s range into {@code range[0]} (lo) and {@code range[1]} (hi). */
        void range(int k, float min, float max, float[] range);
    }

    /** BitDistiller's 10 x 10 grid of (α, β), α = β = 1 first. */
    static final Ranges ASYMMETRIC = new Ranges() {
        @Override
        public int count() {
            return SHRINK.length * SHRINK.length;
        }

        @Override
        public void range(int k, float min, float max, float[] range) {
            float alpha = SHRINK[k / SHRINK.length], beta = SHRINK[k % SHRINK.length];
            range[0] = Math.min(beta * min, 0);
            range[1] = Math.max(alpha * max, 0);
        }
    };

    /** Clips with the layer's sampled calibration rows ({@link LayerStatistics#sample()}). */
    public static GroupQuantized search(String name, QuantFormat format, float[] w, int rows, int cols, int groupSize, LayerStatistics stats) {
        if (stats.cols() != cols) {
            throw new dev.bitcap.BitcapException(name + ": calibration statistics have " + stats.cols() + " inputs, the layer " + cols);
        }
        return search(name, format, w, rows, cols, groupSize, stats.sample(), stats.sampleTokens());
    }

    /** Clips with raw calibration rows {@code x} ({@code tokens x cols}); more than 512 are evenly strided down. */
    public static GroupQuantized search(String name, QuantFormat format, float[] w, int rows, int cols, int groupSize, float[] x, int tokens) {
        LayerStatistics.checkLayer(name, w, rows, cols, groupSize);
        int used = LayerStatistics.checkInputs(name, x, tokens, cols);
        float[] sample = LayerStatistics.strided(x, tokens, cols);
        return searchGroups(format, w, rows, cols, groupSize, groupGrams(sample, used, cols, groupSize, null), ASYMMETRIC);
    }

    /**
     * The diagonal blocks of XᵀX/T, one per group ({@code len x len}, row-major), for inputs multiplied
     * column-wise by {@code inputScale} (null: as they are).
     */
    static double[][] groupGrams(float[] x, int tokens, int cols, int groupSize, float[] inputScale) {
        int groups = GroupQuantized.groupsPerRow(cols, groupSize);
        double[][] grams = new double[groups][];
        Parallel.forRange(groups, 1, (k0, k1) -> {
            for (int k = k0; k < k1; k++) {
                int c0 = k * groupSize, len = Math.min(groupSize, cols - c0);
                double[] gram = new double[len * len];
                double[] xs = new double[len];
                for (int t = 0; t < tokens; t++) {
                    for (int i = 0; i < len; i++) {
                        double v = x[t * cols + c0 + i];
                        xs[i] = inputScale == null ? v : v * inputScale[c0 + i];
                    }
                    for (int i = 0; i < len; i++) {
                        double xi = xs[i];
                        if (xi == 0) continue;
                        for (int j = i; j < len; j++) gram[i * len + j] += xi * xs[j];
                    }
                }
                for (int i = 0; i < len; i++) {
                    for (int j = i; j < len; j++) {
                        double v = gram[i * len + j] / tokens;
                        gram[i * len + j] = v;
                        gram[j * len + i] = v;
                    }
                }
                grams[k] = gram;
            }
        });
        return grams;
    }

    /**
     * Every row and group: the candidate range with the smallest dᵀGd, codes and parameters fitted on it. With a
     * single candidate {@code grams} may be null.
     */
    static GroupQuantized searchGroups(QuantFormat f, float[] w, int rows, int cols, int groupSize, double[][] grams, Ranges ranges) {
        int groups = GroupQuantized.groupsPerRow(cols, groupSize), pc = f.paramCount();
        int[] codes = new int[rows * cols];
        float[] params = new float[rows * groups * pc];
        Parallel.forRange(rows, 1, (r0, r1) -> {
            float[] range = new float[2];
            float[] candidate = new float[pc];
            double[] d = new double[groupSize];
            for (int r = r0; r < r1; r++) {
                for (int k = 0; k < groups; k++) {
                    int off = r * cols + k * groupSize, len = Math.min(groupSize, cols - k * groupSize);
                    int p = (r * groups + k) * pc;
                    float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
                    for (int i = 0; i < len; i++) {
                        min = Math.min(min, w[off + i]);
                        max = Math.max(max, w[off + i]);
                    }
                    double best = Double.POSITIVE_INFINITY;
                    int n = ranges.count();
                    if (n == 1) { // nothing to choose between: no error to measure
                        ranges.range(0, min, max, range);
                        f.fit(w, off, len, range[0], range[1], params, p);
                    }
                    for (int c = 0; n > 1 && c < n; c++) {
                        ranges.range(c, min, max, range);
                        f.fit(w, off, len, range[0], range[1], candidate, 0);
                        for (int i = 0; i < len; i++) {
                            d[i] = f.decode(f.encode(w[off + i], candidate, 0), candidate, 0) - (double) w[off + i];
                        }
                        double e = quadraticForm(grams[k], d, len);
                        if (e < best) {
                            best = e;
                            System.arraycopy(candidate, 0, params, p, pc);
                        }
                    }
                    for (int i = 0; i < len; i++) codes[off + i] = f.encode(w[off + i], params, p);
                }
            }
        });
        return new GroupQuantized(f, rows, cols, groupSize, codes, params);
    }

    /** dᵀ·G·d for a symmetric {@code len x len} G. */
    static double quadraticForm(double[] g, double[] d, int len) {
        double total = 0;
        for (int i = 0; i < len; i++) {
            double di = d[i];
            if (di == 0) continue;
            double s = 0;
            int row = i * len;
            for (int j = 0; j < len; j++) s += g[row + j] * d[j];
            total += di * s;
        }
        return total;
    }
}
