package dev.bitcap.tensor;

/** The k largest values of a row, largest first; equal values keep the lower index first. */
public final class TopK {
    private TopK() {}

    public static void select(float[] a, int off, int n, int k, int[] idx, float[] val) {
        if (k < 1 || k > n) throw new IllegalArgumentException("top-" + k + " of " + n + " values");
        int filled = 0;
        for (int i = 0; i < n; i++) {
            float v = a[off + i];
            if (filled == k && !(v > val[k - 1])) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && v > val[pos - 1]) {
                val[pos] = val[pos - 1];
                idx[pos] = idx[pos - 1];
                pos--;
            }
            val[pos] = v;
            idx[pos] = i;
        }
    }
}
