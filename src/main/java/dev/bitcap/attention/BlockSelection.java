package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import java.util.Arrays;

/**
 * Turns block scores into the key blocks a query row visits. A row has {@code n} causal blocks, {@code 0 .. n-1};
 * the first (attention sinks) and the last (the diagonal in prefill, the current block in decode) are always
 * kept. Either a density D, meaning a per-row budget of round(D·n) blocks (at least the two kept ones), so every
 * row and the whole causal map visit about the fraction D of their blocks; or a threshold τ on the scores (a
 * probability distribution over the row's blocks), keeping every block above it.
 */
public final class BlockSelection {
    private final double density;
    private final double threshold;

    private BlockSelection(double density, double threshold) {
        this.density = density;
        this.threshold = threshold;
    }

    public static BlockSelection density(double density) {
        if (!(density > 0 && density <= 1)) throw new BitcapException("--density must be in (0, 1], got " + density);
        return new BlockSelection(density, Double.NaN);
    }

    public static BlockSelection threshold(double threshold) {
        if (!(threshold > 0 && threshold < 1)) throw new BitcapException("--threshold must be in (0, 1), got " + threshold);
        return new BlockSelection(Double.NaN, threshold);
    }

    /** The density asked for (NaN under a threshold). */
    public double density() {
        return density;
    }

    /** The threshold asked for (NaN under a density). */
    public double threshold() {
        return threshold;
    }

    public boolean byThreshold() {
        return !Double.isNaN(threshold);
    }

    /** Blocks a row of {@code n} causal blocks keeps under a density (the kept first and last included). */
    public static int budget(double density, int n) {
        long k = Math.round(density * n);
        return (int) Math.max(Math.min(2, n), Math.min(n, k));
    }

    /**
     * Chosen blocks of a row, ascending, written to {@code into} (length at least n); returns how many.
     * {@code scores[j]} ranks block j for {@code 0 < j < n-1}; ties go to the later block.
     */
    public int select(double[] scores, int n, int[] into) {
        if (n <= 2) {
            for (int j = 0; j < n; j++) into[j] = j;
            return n;
        }
        int count = 0;
        into[count++] = 0;
        if (byThreshold()) {
            for (int j = 1; j < n - 1; j++) if (scores[j] > threshold) into[count++] = j;
        } else {
            int extra = budget(density, n) - 2;
            if (extra == n - 2) {
                for (int j = 1; j < n - 1; j++) into[count++] = j;
            } else if (extra > 0) {
                count += topMiddle(scores, n, extra, into, count);
            }
        }
        into[count++] = n - 1;
        Arrays.sort(into, 1, count - 1);
        return count;
    }

    /** The {@code k} highest-scoring blocks among 1..n-2, in no particular order. */
    private static int topMiddle(double[] scores, int n, int k, int[] into, int at) {
        double[] sorted = Arrays.copyOfRange(scores, 1, n - 1);
        Arrays.sort(sorted);
        double kth = sorted[sorted.length - k];
        int count = 0;
        for (int j = 1; j < n - 1; j++) if (scores[j] > kth) into[at + count++] = j;
        for (int j = n - 2; j >= 1 && count < k; j--) if (scores[j] == kth) into[at + count++] = j;
        return count;
    }

    @Override
    public String toString() {
        return byThreshold() ? "threshold " + threshold : "density " + density;
    }
}
