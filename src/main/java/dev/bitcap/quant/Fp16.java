package dev.bitcap.quant;

/** Rounding of format parameters to the fp16 values that are stored, so that encoding uses what decoding will see. */
final class Fp16 {
    /** The largest finite fp16 value; larger parameters are clamped to it (weights beyond it times c_max clip). */
    static final float MAX = 65504f;

    private Fp16() {}

    /** {@code v} clamped to the finite fp16 range and rounded to the nearest fp16 value (ties to even). */
    static float round(float v) {
        float c = Math.min(Math.max(v, -MAX), MAX);
        return Float.float16ToFloat(Float.floatToFloat16(c));
    }
}
