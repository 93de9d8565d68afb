package dev.bitcap.compress;

import dev.bitcap.quant.BinaryLayout;

/**
 * STBLLM's layer-wise N:M ratios, OWL-style: layers whose importance scores hold more outliers keep more weights.
 * A layer's outlier ratio is the fraction of its Standardized Importance scores (all its matrices together) above
 * {@value #OUTLIER_FACTOR} × their mean. The ratios are scaled to [0, 1] (s_l), each layer's target is
 * t_l = N + {@value #SPAN}·(s_l − mean s), so the most outlier-heavy layer keeps up to {@value #SPAN} more per 8
 * than the least, and the targets are rounded by largest remainder: Σ N_l = L·N exactly, so the mean N equals the
 * requested one (STBLLM's own rounding does not keep the mean: its 7B "4:8" log prunes 3.8 per 8 on average).
 */
public final class NmAllocation {
    /** STBLLM's (and OWL's) outlier threshold: a score above this multiple of the layer's mean. */
    public static final double OUTLIER_FACTOR = 6;
    /** Kept weights per 8 between the least and the most outlier-heavy layer, before rounding. */
    public static final double SPAN = 2;

    private NmAllocation() {}

    /** The fraction of {@code scores} (one layer's, all its matrices) above {@link #OUTLIER_FACTOR} × their mean. */
    public static double outlierRatio(double[][] scores) {
        double sum = 0;
        long n = 0;
        for (double[] s : scores) {
            for (double v : s) sum += v;
            n += s.length;
        }
        if (n == 0) return 0;
        double threshold = OUTLIER_FACTOR * sum / n;
        long above = 0;
        for (double[] s : scores) for (double v : s) if (v > threshold) above++;
        return (double) above / n;
    }

    /** Kept per 8 for each layer from their outlier ratios, with mean exactly {@code keptPer8} (1..8 each). */
    public static int[] allocate(double[] ratios, int keptPer8) {
        int layers = ratios.length;
        int[] kept = new int[layers];
        java.util.Arrays.fill(kept, keptPer8);
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (double r : ratios) {
            min = Math.min(min, r);
            max = Math.max(max, r);
        }
        if (layers < 2 || !(max > min) || keptPer8 == BinaryLayout.M) return kept;
        double[] s = new double[layers];
        double mean = 0;
        for (int l = 0; l < layers; l++) mean += (s[l] = (ratios[l] - min) / (max - min)) / layers;
        double[] target = new double[layers];
        long floors = 0;
        for (int l = 0; l < layers; l++) {
            target[l] = Math.min(BinaryLayout.M, Math.max(1, keptPer8 + SPAN * (s[l] - mean)));
            kept[l] = (int) Math.floor(target[l]);
            floors += kept[l];
        }
        long missing = (long) keptPer8 * layers - floors;
        Integer[] order = new Integer[layers];
        for (int l = 0; l < layers; l++) order[l] = l;
        java.util.Arrays.sort(order, (a, b) -> {
            int c = Double.compare(target[b] - kept[b], target[a] - kept[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        for (int i = 0; i < layers && missing > 0; i++) {
            if (kept[order[i]] < BinaryLayout.M) {
                kept[order[i]]++;
                missing--;
            }
        }
        return kept;
    }
}
