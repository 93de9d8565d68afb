package dev.bitcap.tensor;

/** Scalar conversions between float and bfloat16 (fp16 has its own in {@link Float}). */
public final class Halfs {
    private Halfs() {}

    /** bfloat16 bits of {@code f}, rounded to nearest even; NaN stays NaN. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float bf16ToF32(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }
}
