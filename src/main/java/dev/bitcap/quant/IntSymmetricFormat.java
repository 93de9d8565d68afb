package dev.bitcap.quant;

/**
 * Symmetric integer format {@code int<b>-sym}: one fp16 scale s per group; code c in [0, 2^b) stands for
 * (c - 2^(b-1)) * s, so the levels are the full two's-complement range -2^(b-1) .. 2^(b-1)-1, and
 * s = max(|lo|, |hi|) / 2^(b-1). The most positive weights above (2^(b-1)-1) * s are clipped by at most one step.
 * <p>
 * Why this convention: on Gaussian groups of 128 its mean squared error is lower than the alternatives for 2, 3
 * and 4 bits (per weight, unit variance: 0.187 / 0.0450 / 0.0111) than levels ±(2^(b-1)-1) with
 * s = max / (2^(b-1)-1) (0.588 / 0.0748 / 0.0138) or the full range with an unclipped scale
 * max(|lo|/2^(b-1), hi/(2^(b-1)-1)) (0.515 / 0.0644 / 0.0125): one more level and a finer step outweigh the
 * clipping of a few extreme positives. At 8 bits the three are within 4% of each other. (Measured with a
 * throwaway program, 20000 groups, seed 1, 2026-05.)
 * <p>
 * Encoding rounds w / s half to even ({@link Math#rint}), as the INT reference implementations do; exact ties are
 * the only place where this differs from "ties to the lower code".
 */
final class IntSymmetricFormat implements QuantFormat, DecodeTable.Source {
    private final int bits, half, maxCode;
    private final DecodeTable table;

    IntSymmetricFormat(int bits) {
        this.bits = bits;
        this.half = 1 << (bits - 1);
        this.maxCode = (1 << bits) - 1;
        float[] a = new float[1 << bits];
        for (int c = 0; c < a.length; c++) a[c] = c - half;
        this.table = new DecodeTable(a, new float[a.length], false);
    }

    @Override
    public String name() {
        return "int" + bits + "-sym";
    }

    @Override
    public int codeBits() {
        return bits;
    }

    @Override
    public int paramCount() {
        return 1;
    }

    @Override
    public void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff) {
        params[pOff] = Fp16.round(Math.max(-lo, hi) / half);
    }

    @Override
    public int encode(float w, float[] params, int pOff) {
        float s = params[pOff];
        if (s == 0) return half;
        double c = Math.rint(w / s) + half;
        return (int) Math.max(0, Math.min(maxCode, c));
    }

    @Override
    public float decode(int code, float[] params, int pOff) {
        return (code - half) * params[pOff];
    }

    @Override
    public DecodeTable decodeTable() {
        return table;
    }
}
