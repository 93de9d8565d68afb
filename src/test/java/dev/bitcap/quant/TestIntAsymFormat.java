package dev.bitcap.quant;

/**
 * A test-only INT-asym format (BitDistiller §2.1): s = max(hi − lo, 1e−5)/(2^b − 1), z = clamp(rint(−lo/s), 0,
 * 2^b − 1), value = s·(c − z); both parameters stored as fp16 (z is a small integer, exact in fp16). Stands in for
 * the real formats, which are written elsewhere.
 */
record TestIntAsymFormat(int bits) implements QuantFormat {
    @Override
    public String name() {
        return "int" + bits + "-asym-test";
    }

    @Override
    public int codeBits() {
        return bits;
    }

    @Override
    public int paramCount() {
        return 2;
    }

    private int maxCode() {
        return (1 << bits) - 1;
    }

    @Override
    public void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff) {
        float s = fp16(Math.max(hi - lo, 1e-5f) / maxCode());
        if (s == 0) s = Float.float16ToFloat((short) 1); // smallest fp16 subnormal
        float z = (float) Math.min(maxCode(), Math.max(0, Math.rint(-lo / s)));
        params[pOff] = s;
        params[pOff + 1] = z;
    }

    @Override
    public int encode(float w, float[] params, int pOff) {
        double v = w / params[pOff] + params[pOff + 1];
        int c = (int) Math.ceil(v - 0.5); // nearest, ties to the lower code
        return Math.min(maxCode(), Math.max(0, c));
    }

    @Override
    public float decode(int code, float[] params, int pOff) {
        return params[pOff] * (code - params[pOff + 1]);
    }

    static float fp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
