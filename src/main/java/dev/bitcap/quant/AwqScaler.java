package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;

/**
 * AWQ (Lin et al. 2023) for one linear layer: scale input channel j of the weights by s_j = (mean |x_j|)^α, so that
 * the channels that see large activations lose less to rounding, and hand the inverse scale to the kernel, which
 * multiplies the activations by it: y = Q(W·diag s)·(diag(1/s)·x).
 *
 * <p>What is done, in order:
 * <ol>
 * <li>α runs over 0, 0.05, …, 0.95; s = max((mean |x_j|)^α, 1e−4), divided by sqrt(max s · min s) as AWQ does;
 *     W·diag(s) is quantized by RTN (each group fitted on [min(min, 0), max(max, 0)]) and the α with the smallest
 *     ||Q(W·diag s)·diag(1/s)·Xᵀ − W·Xᵀ||² over the sampled calibration tokens is kept. α = 0 gives s = 1,
 *     plain RTN, so the kept α is never worse than RTN; ties keep the smaller α.</li>
 * <li>AWQ's symmetric clip search on the scaled weights: per row and group, ranges [−m, m] with
 *     m = max|w_g|·(1 − i/20), i = 0…9, intersected with the group's [min, max] (so i = 0 is no clipping), picked
 *     by the mean over tokens of (x_g·(Q(w_g) − w_g))² with the scaled inputs, the first minimum in order.</li>
 * <li>Unlike AWQ, a row keeps its clipped groups only if the row's whole output error does not grow: the
 *     per-group choices ignore the cross terms between groups, and this guard keeps the result no worse than
 *     step 1, hence never worse than RTN, on the calibration tokens.</li>
 * </ol>
 * Mean |x_j| comes from every token seen; the errors are measured on up to 512 sampled tokens. AWQ proper searches
 * s per block of layers that share an input (q, k, v) and folds it into the preceding norm; this class works on
 * one layer and leaves the folding to its caller.
 */
public final class AwqScaler {
    /** The number of α values: 0, 0.05, …, 0.95. */
    static final int ALPHAS = 20;
    private static final float MIN_SCALE = 1e-4f;

    private AwqScaler() {}

    /**
     * The search's outcome: the codes and parameters of W·diag(s), the factor 1/s the kernel multiplies the
     * activations by, and the α picked.
     */
    public record Result(float[] inputScale, GroupQuantized quantized, double alpha) {}

    /** With a layer's calibration statistics: mean |x| over all tokens, errors on the sampled rows. */
    public static Result search(String name, QuantFormat format, float[] w, int rows, int cols, int groupSize, LayerStatistics stats) {
        if (stats.cols() != cols) {
            throw new BitcapException(name + ": calibration statistics have " + stats.cols() + " inputs, the layer " + cols);
        }
        LayerStatistics.checkLayer(name, w, rows, cols, groupSize);
        return run(format, w, rows, cols, groupSize, stats.meanAbs(), stats.sample(), stats.sampleTokens());
    }

    /** With raw calibration rows {@code x} ({@code tokens x cols}); errors on up to 512 evenly strided ones. */
    public static Result search(String name, QuantFormat format, float[] w, int rows, int cols, int groupSize, float[] x, int tokens) {
        LayerStatistics.checkLayer(name, w, rows, cols, groupSize);
        int used = LayerStatistics.checkInputs(name, x, tokens, cols);
        double[] meanAbs = new double[cols];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < cols; j++) meanAbs[j] += Math.abs(x[t * cols + j]);
        }
        for (int j = 0; j < cols; j++) meanAbs[j] /= tokens;
        return run(format, w, rows, cols, groupSize, meanAbs, LayerStatistics.strided(x, tokens, cols), used);
    }

    private static Result run(QuantFormat f, float[] w, int rows, int cols, int groupSize, double[] meanAbs, float[] sample, int tokens) {
        double[] x = new double[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = sample[i];
        // Reference outputs W·Xᵀ, once: every candidate is compared with them.
        double[] reference = outputs(null, null, w, rows, cols, x, tokens);

        double bestError = Double.POSITIVE_INFINITY;
        int bestK = 0;
        float[] bestS = null, bestScale = null;
        GroupQuantized bestQ = null;
        for (int k = 0; k < ALPHAS; k++) {
            float[] s = scales(meanAbs, k * 0.05);
            float[] inputScale = new float[cols];
            for (int j = 0; j < cols; j++) inputScale[j] = 1 / s[j];
            GroupQuantized q = ClipSearch.searchGroups(f, scaled(w, rows, cols, s), rows, cols, groupSize, null, NO_CLIP);
            double e = sum(rowErrors(q, inputScale, reference, x, tokens));
            if (e < bestError) {
                bestError = e;
                bestK = k;
                bestS = s;
                bestScale = inputScale;
                bestQ = q;
            }
        }

        GroupQuantized clipped = ClipSearch.searchGroups(f, scaled(w, rows, cols, bestS), rows, cols, groupSize,
                ClipSearch.groupGrams(sample, tokens, cols, groupSize, bestScale), SYMMETRIC);
        double[] before = rowErrors(bestQ, bestScale, reference, x, tokens);
        double[] after = rowErrors(clipped, bestScale, reference, x, tokens);
        int groups = bestQ.groups(), pc = f.paramCount();
        int[] codes = bestQ.codes().clone();
        float[] params = bestQ.params().clone();
        for (int r = 0; r < rows; r++) {
            if (after[r] <= before[r]) {
                System.arraycopy(clipped.codes(), r * cols, codes, r * cols, cols);
                System.arraycopy(clipped.params(), r * groups * pc, params, r * groups * pc, groups * pc);
            }
        }
        return new Result(bestScale, new GroupQuantized(f, rows, cols, groupSize, codes, params), bestK * 0.05);
    }

    /** s_j = max(meanAbs_j^α, 1e−4), normalised by sqrt(max·min). */
    static float[] scales(double[] meanAbs, double alpha) {
        int cols = meanAbs.length;
        double[] s = new double[cols];
        double max = 0, min = Double.POSITIVE_INFINITY;
        for (int j = 0; j < cols; j++) {
            s[j] = Math.max(Math.pow(meanAbs[j], alpha), MIN_SCALE);
            max = Math.max(max, s[j]);
            min = Math.min(min, s[j]);
        }
        double norm = Math.sqrt(max * min);
        float[] out = new float[cols];
        for (int j = 0; j < cols; j++) out[j] = (float) (s[j] / norm);
        return out;
    }

    private static float[] scaled(float[] w, int rows, int cols, float[] s) {
        float[] ws = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) ws[r * cols + c] = w[r * cols + c] * s[c];
        }
        return ws;
    }

    /** One candidate: the group's whole range (plain RTN). */
    private static final ClipSearch.Ranges NO_CLIP = new ClipSearch.Ranges() {
        @Override
        public int count() {
            return 1;
        }

        @Override
        public void range(int k, float min, float max, float[] range) {
            range[0] = Math.min(min, 0);
            range[1] = Math.max(max, 0);
        }
    };

    /** AWQ's clip: [−m, m] with m = max|w|·(1 − i/20), i = 0…9, within the group's own range. */
    private static final ClipSearch.Ranges SYMMETRIC = new ClipSearch.Ranges() {
        @Override
        public int count() {
            return ClipSearch.SHRINK.length;
        }

        @Override
        public void range(int k, float min, float max, float[] range) {
            float m = Math.max(-min, max) * ClipSearch.SHRINK[k];
            range[0] = Math.min(Math.max(min, -m), 0);
            range[1] = Math.max(Math.min(max, m), 0);
        }
    };

    /**
     * Outputs (rows x tokens) of the dequantized {@code q} times diag(inputScale), or of {@code w} when q is null.
     */
    private static double[] outputs(GroupQuantized q, float[] inputScale, float[] w, int rows, int cols, double[] x, int tokens) {
        double[] y = new double[rows * tokens];
        Parallel.forRange(rows, 1, (r0, r1) -> {
            double[] row = new double[cols];
            for (int r = r0; r < r1; r++) {
                for (int c = 0; c < cols; c++) row[c] = q == null ? w[r * cols + c] : (double) q.dequantize(r, c) * inputScale[c];
                for (int t = 0; t < tokens; t++) y[r * tokens + t] = Cholesky.dot(row, 0, x, t * cols, cols);
            }
        });
        return y;
    }

    /** Per row: Σ_t (output of the quantized layer − reference output)². */
    private static double[] rowErrors(GroupQuantized q, float[] inputScale, double[] reference, double[] x, int tokens) {
        int rows = q.rows(), cols = q.cols();
        double[] y = outputs(q, inputScale, null, rows, cols, x, tokens);
        double[] e = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int t = 0; t < tokens; t++) {
                double d = y[r * tokens + t] - reference[r * tokens + t];
                s += d * d;
            }
            e[r] = s;
        }
        return e;
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }
}
