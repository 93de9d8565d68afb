package dev.bitcap.quant;

/**
 * A sorted table of distinct code values (exactly one zero) and the nearest-value search that the code-book
 * formats share. Code i is table entry i; a value v stands for v * sNeg when v < 0 and v * sPos otherwise, so the
 * decoded values never decrease with the code, even when a scale is 0.
 */
final class Codebook {
    /** FP4 E2M1 without NaN/Inf: ±{0, .5, 1, 1.5, 2, 3, 4, 6}, one zero. */
    static final Codebook FP4 = new Codebook(4, -6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6);
    /** FP3 E2M0: ±{0, 1, 2, 4}, one zero. */
    static final Codebook FP3 = new Codebook(3, -4, -2, -1, 0, 1, 2, 4);
    /** NF4 of bitsandbytes (QLoRA), c_max = 1. */
    static final Codebook NF4 = new Codebook(4, -1.0f, -0.6961928009986877f, -0.5250730514526367f,
            -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f);
    /** NF3 as in AFPQ / BitDistiller, c_max = 1. */
    static final Codebook NF3 = new Codebook(3, -1, -0.5350227355957031f, -0.2469314038753510f, 0,
            0.1833375245332718f, 0.3819939494132996f, 0.6229856610298157f, 1);

    final int bits;
    /** The distinct values, ascending. */
    final float[] values;
    /** Index of the zero entry. */
    final int zero;
    /** max |value| over positive entries and negative entries: the divisors that give the scales. */
    final float maxPositive, maxNegative;

    private Codebook(int bits, float... values) {
        this.bits = bits;
        this.values = values;
        int z = -1;
        for (int i = 0; i < values.length; i++) {
            if (values[i] == 0) z = i;
            if (i > 0 && !(values[i] > values[i - 1])) throw new IllegalArgumentException("code book not ascending");
        }
        if (z < 0 || values.length > 1 << bits) throw new IllegalArgumentException("bad code book");
        this.zero = z;
        this.maxPositive = values[values.length - 1];
        this.maxNegative = -values[0];
    }

    float decode(int code, float sNeg, float sPos) {
        if (code >= values.length) return 0;
        float v = values[code];
        // + 0f turns the -0.0 of a zero negative scale into +0.0, as the kernels' fma(v, s-, +0) does
        return v < 0 ? v * sNeg + 0f : v * sPos;
    }

    /** The code whose value is nearest to {@code w}; among equally near ones the lowest code, but the zero code for 0. */
    int nearest(float w, float sNeg, float sPos) {
        int n = values.length;
        int lo = 0, hi = n; // first index with decode >= w lies in [lo, hi]
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (decode(mid, sNeg, sPos) >= w) hi = mid;
            else lo = mid + 1;
        }
        int c;
        if (lo == 0) c = 0;
        else if (lo == n) c = n - 1;
        else {
            double below = (double) w - decode(lo - 1, sNeg, sPos), above = (double) decode(lo, sNeg, sPos) - w;
            c = below <= above ? lo - 1 : lo;
        }
        // a scale of 0 collapses one side onto 0 (as -0.0 on the negative side): 0 always takes the zero code
        if (decode(c, sNeg, sPos) == 0) return zero;
        while (c > 0 && decode(c - 1, sNeg, sPos) == decode(c, sNeg, sPos)) c--;
        return c;
    }

    /** Entries split for a {@link DecodeTable}: {@code a} keeps the non-negative values, {@code b} the negative. */
    DecodeTable table(boolean twoScales) {
        float[] a = new float[1 << bits], b = new float[1 << bits];
        for (int i = 0; i < values.length; i++) {
            if (twoScales && values[i] < 0) b[i] = values[i];
            else a[i] = values[i];
        }
        return new DecodeTable(a, b, false);
    }
}
