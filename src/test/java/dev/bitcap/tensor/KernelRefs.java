package dev.bitcap.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * Shared pieces of the kernel tests: float rounding-error constants, random data and weight tensors in every
 * matrix type. References themselves are written out in each test, in double.
 */
final class KernelRefs {
    /** Unit roundoff of float (half an ulp of 1). */
    static final double U = 0x1p-24;

    private KernelRefs() {}

    /**
     * Higham's γ_k = k·u / (1 - k·u): a float sum or dot product evaluated in any order with at most k roundings
     * on the path of each term is within γ_k · Σ|terms| of the exact value.
     */
    static double gamma(int k) {
        return k * U / (1 - k * U);
    }

    static float[] gaussian(Random rnd, int n, double sigma) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * sigma);
        return v;
    }

    /**
     * A [rows, cols] tensor of {@code type} holding {@code v} as that type stores it: rounded for F16/BF16,
     * block-quantized for Q8_0/Q4_0. Callers compare against {@link Tensor#getFloat}, the stored value.
     */
    static Tensor matrix(Arena arena, DType type, int rows, int cols, float[] v) {
        Tensor t = Tensor.allocate(arena, type, rows, cols);
        store(type, v, t.data());
        return t;
    }

    static void store(DType type, float[] v, MemorySegment seg) {
        switch (type) {
            case F32 -> MemorySegment.copy(v, 0, seg, Tensor.F32_LE, 0, v.length);
            case F16 -> {
                for (int i = 0; i < v.length; i++) seg.set(Tensor.I16_LE, 2L * i, Float.floatToFloat16(v[i]));
            }
            case BF16 -> {
                for (int i = 0; i < v.length; i++) seg.set(Tensor.I16_LE, 2L * i, Halfs.f32ToBf16(v[i]));
            }
            case Q8_0, Q4_0 -> BlockQuantizer.quantizeInto(type, v, 0, v.length, seg, 0);
            default -> throw new IllegalArgumentException("not a matrix type: " + type);
        }
    }
}
