package dev.bitcap.tensor;

/** Rotary position embedding applied in place to the heads of one token. */
public final class Rope {
    private Rope() {}

    /**
     * Rotates {@code heads} consecutive heads of width {@code headDim} starting at {@code x[off]}.
     * {@code cos[j]} and {@code sin[j]} belong to frequency j, {@code j < headDim/2}.
     */
    public static void apply(float[] x, int off, int heads, int headDim, float[] cos, float[] sin, RopeStyle style) {
        int half = headDim / 2;
        if (cos.length < half || sin.length < half) {
            throw new IllegalArgumentException("RoPE tables hold " + cos.length + " frequencies, head needs " + half);
        }
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int j = 0; j < half; j++) {
                int a, b;
                if (style == RopeStyle.ADJACENT_PAIRS) {
                    a = base + 2 * j;
                    b = a + 1;
                } else {
                    a = base + j;
                    b = a + half;
                }
                float x0 = x[a], x1 = x[b], c = cos[j], s = sin[j];
                x[a] = x0 * c - x1 * s;
                x[b] = x0 * s + x1 * c;
            }
        }
    }
}
