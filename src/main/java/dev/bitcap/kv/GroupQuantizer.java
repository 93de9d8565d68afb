package dev.bitcap.kv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Asymmetric min/max quantization of one group of keys or values to b-bit codes with an fp16 scale and minimum.
 * The stored minimum is the largest fp16 at or below the group's minimum and the stored scale the smallest fp16
 * with {@code min + (2^b-1)*scale} at or above its maximum, so every value of the group lies in the range the
 * codes cover and decodes ({@code fma(code, scale, min)}) within half a step ({@code scale/2}) of itself.
 */
public final class GroupQuantizer {
    static final ValueLayout.OfInt PARAM = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final float FP16_MAX = 65504f;

    private GroupQuantizer() {}

    /**
     * Quantizes {@code x[off + i*stride]} for i < n into a run of n codes at {@code codes} (plane order, see
     * {@link KvLayout}) and its parameter word at {@code param}.
     */
    public static void quantize(float[] x, int off, int stride, int n, int bits, MemorySegment seg, long codes, long param) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float v = x[off + i * stride];
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        int levels = (1 << bits) - 1;
        short minBits = fp16AtMost(lo);
        float min = Float.float16ToFloat(minBits);
        short scaleBits = fp16AtLeast((float) (((double) hi - min) / levels));
        // rounding the scale up may still leave min + levels*scale a float ulp short of hi: step once more
        while (min + levels * Float.float16ToFloat(scaleBits) < hi && Float.float16ToFloat(scaleBits) < FP16_MAX) scaleBits++;
        float scale = Float.float16ToFloat(scaleBits);
        seg.set(PARAM, param, (scaleBits & 0xFFFF) | (minBits << 16));
        int perByte = 8 / bits, planes = n / perByte;
        for (int b = 0; b < planes; b++) {
            int packed = 0;
            for (int p = 0; p < perByte; p++) {
                float v = x[off + (b + p * planes) * stride];
                int q = scale == 0 ? 0 : Math.round((v - min) / scale);
                q = Math.max(0, Math.min(levels, q));
                packed |= q << (p * bits);
            }
            seg.set(ValueLayout.JAVA_BYTE, codes + b, (byte) packed);
        }
    }

    /** Code i of the run of n codes at {@code codes}. */
    public static int code(MemorySegment seg, long codes, int n, int bits, int i) {
        int perByte = 8 / bits, planes = n / perByte;
        int b = seg.get(ValueLayout.JAVA_BYTE, codes + i % planes) & 0xFF;
        return (b >>> (i / planes * bits)) & ((1 << bits) - 1);
    }

    public static float scale(MemorySegment seg, long param) {
        return Float.float16ToFloat((short) seg.get(PARAM, param));
    }

    public static float min(MemorySegment seg, long param) {
        return Float.float16ToFloat((short) (seg.get(PARAM, param) >>> 16));
    }

    /** Scalar decode of a whole run into {@code out[outOff + i*stride]}: the reference the fast paths must match. */
    public static void dequantize(MemorySegment seg, long codes, long param, int n, int bits, float[] out, int outOff, int stride) {
        float scale = scale(seg, param), min = min(seg, param);
        for (int i = 0; i < n; i++) out[outOff + i * stride] = Math.fma((float) code(seg, codes, n, bits, i), scale, min);
    }

    /** The largest fp16 value not above {@code v} (clamped to the fp16 range). */
    static short fp16AtMost(float v) {
        float c = Math.max(-FP16_MAX, Math.min(FP16_MAX, v));
        short h = Float.floatToFloat16(c);
        if (Float.float16ToFloat(h) > c) h = stepDown(h);
        return h;
    }

    /** The smallest non-negative fp16 value not below {@code v} (clamped to the fp16 range). */
    static short fp16AtLeast(float v) {
        float c = Math.max(0f, Math.min(FP16_MAX, v));
        short h = Float.floatToFloat16(c);
        if (Float.float16ToFloat(h) < c) h++;
        return h;
    }

    private static short stepDown(short h) {
        if ((h & 0x7FFF) == 0) return (short) 0x8001; // below ±0: the smallest negative subnormal
        return (short) (h < 0 ? h + 1 : h - 1);       // sign-magnitude: away from zero when negative
    }
}
