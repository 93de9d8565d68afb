package dev.bitcap.quant;

/**
 * Asymmetric integer format {@code int<b>-asym} (the AutoGPTQ / AWQ / BitDistiller convention): per group an fp16
 * scale s = max(hi - lo, 1e-5) / (2^b - 1) and an integer zero point z = clamp(rint(-lo / s), 0, 2^b - 1), stored
 * as fp16 (exact: z < 256). Code c stands for s * (c - z). The zero point is computed from the fp16-rounded
 * scale, and encoding divides by that same scale. Rounding is half to even ({@link Math#rint}) as in the
 * reference code; exact ties are the only place where this differs from "ties to the lower code".
 * A scale that would underflow fp16 becomes its smallest subnormal (2^-24), one that would overflow is clamped.
 */
final class IntAsymmetricFormat implements QuantFormat, DecodeTable.Source {
    private static final float MIN_SCALE = 0x1p-24f;
    private final int bits, maxCode;
    private final DecodeTable table;

    IntAsymmetricFormat(int bits) {
        this.bits = bits;
        this.maxCode = (1 << bits) - 1;
        float[] a = new float[1 << bits];
        for (int c = 0; c < a.length; c++) a[c] = c;
        this.table = new DecodeTable(a, new float[a.length], true);
    }

    @Override
    public String name() {
        return "int" + bits + "-asym";
    }

    @Override
    public int codeBits() {
        return bits;
    }

    @Override
    public int paramCount() {
        return 2;
    }

    @Override
    public void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff) {
        float s = Math.max(MIN_SCALE, Fp16.round(Math.max(hi - lo, 1e-5f) / maxCode));
        params[pOff] = s;
        params[pOff + 1] = (float) Math.max(0, Math.min(maxCode, Math.rint(-lo / s)));
    }

    @Override
    public int encode(float w, float[] params, int pOff) {
        double c = Math.rint(w / params[pOff]) + params[pOff + 1];
        return (int) Math.max(0, Math.min(maxCode, c));
    }

    @Override
    public float decode(int code, float[] params, int pOff) {
        return (code - params[pOff + 1]) * params[pOff];
    }

    @Override
    public DecodeTable decodeTable() {
        return table;
    }
}
