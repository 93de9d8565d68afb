package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Writes floats as GGML Q8_0 or Q4_0 blocks, rounding the way ggml's reference quantizers do. */
public final class BlockQuantizer {
    private static final int BLOCK = 32;

    private BlockQuantizer() {}

    /** Quantizes {@code v[off .. off+n)} ({@code n} a multiple of 32) into {@code dst} at byte {@code dstOff}. */
    public static void quantizeInto(DType type, float[] v, int off, int n, MemorySegment dst, long dstOff) {
        if (n % BLOCK != 0) throw new IllegalArgumentException(type + " needs a multiple of 32 values, got " + n);
        for (int blk = 0; blk < n / BLOCK; blk++) {
            int src = off + blk * BLOCK;
            long b = dstOff + (long) blk * type.blockBytes();
            switch (type) {
                case Q8_0 -> q8Block(v, src, dst, b);
                case Q4_0 -> q4Block(v, src, dst, b);
                default -> throw new IllegalArgumentException(type + " is not a block-quantized type");
            }
        }
    }

    /** Scale amax/127; codes round(v/scale). */
    private static void q8Block(float[] v, int src, MemorySegment dst, long b) {
        float amax = 0;
        for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(v[src + j]));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Tensor.I16_LE, b, Float.floatToFloat16(d));
        for (int j = 0; j < BLOCK; j++) dst.set(ValueLayout.JAVA_BYTE, b + 2 + j, (byte) roundHalfAway(v[src + j] * id));
    }

    /** C's roundf (halves away from zero), in double so that 0.49999997f does not round up. */
    private static long roundHalfAway(float x) {
        double a = Math.floor(Math.abs((double) x) + 0.5);
        return (long) (x < 0 ? -a : a);
    }

    /** Scale -max/8 where max is the value of largest magnitude (sign kept), so that value maps to code 0 exactly. */
    private static void q4Block(float[] v, int src, MemorySegment dst, long b) {
        float amax = 0, max = 0;
        for (int j = 0; j < BLOCK; j++) {
            float a = Math.abs(v[src + j]);
            if (a > amax) {
                amax = a;
                max = v[src + j];
            }
        }
        float d = max / -8f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Tensor.I16_LE, b, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) (v[src + j] * id + 8.5f));
            int hi = Math.min(15, (int) (v[src + 16 + j] * id + 8.5f));
            dst.set(ValueLayout.JAVA_BYTE, b + 2 + j, (byte) (lo | hi << 4));
        }
    }
}
