package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Vector species shared by the row kernels and the loads that widen stored values to float lanes. */
final class Lanes {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Integer> I = F.withLanes(int.class);

    /** Bytes for L lanes, at least the smallest vector shape (64 bits) on narrow machines. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Sign bit and the 15 bits of fp16 exponent and mantissa once placed in float position (bits 27..13). */
    private static final int F16_BITS = 0x8FFFE000;
    private static final VectorShuffle<Float> ROTATE_8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> ROTATE_4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> ROTATE_2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> ROTATE_1 = VectorShuffle.iota(F, 1, 1, true);

    private Lanes() {}

    /**
     * Sum of the lanes in a fixed tree order. {@code reduceLanes(ADD)} may add in a different order once the JIT
     * intrinsifies it, so the same inputs could give different bits early and late in a run; this cannot.
     */
    static float sum(FloatVector v) {
        if (L >= 16) v = v.add(v.rearrange(ROTATE_8));
        if (L >= 8) v = v.add(v.rearrange(ROTATE_4));
        if (L >= 4) v = v.add(v.rearrange(ROTATE_2));
        if (L >= 2) v = v.add(v.rearrange(ROTATE_1));
        return v.lane(0);
    }

    static FloatVector f32(MemorySegment w, long off) {
        return FloatVector.fromMemorySegment(F, w, off, LE);
    }

    /**
     * The fp16 values in the low halves of {@code pairs}, as floats: shifted so the sign lands in bit 31 and the
     * exponent and mantissa in float position (the arithmetic shift copies the sign into bits 28-30, which the
     * mask clears), then re-biased by 2^112 — exact for normals and subnormals. fp16 infinities and NaNs become
     * large finite values; weights hold none.
     */
    static FloatVector f16Low(IntVector pairs) {
        return f16Placed(pairs.lanewise(VectorOperators.LSHL, 16));
    }

    /** The fp16 values in the high halves of {@code pairs}, as floats (see {@link #f16Low}). */
    static FloatVector f16High(IntVector pairs) {
        return f16Placed(pairs);
    }

    private static FloatVector f16Placed(IntVector highHalves) {
        return highHalves.lanewise(VectorOperators.ASHR, 3).and(F16_BITS).reinterpretAsFloats().mul(0x1p112f);
    }

    /** The bf16 values in the low halves of {@code pairs}, as floats (exact). */
    static FloatVector bf16Low(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** The bf16 values in the high halves of {@code pairs}, as floats (exact). */
    static FloatVector bf16High(IntVector pairs) {
        return pairs.and(0xFFFF0000).reinterpretAsFloats();
    }

    /**
     * Activation rows rearranged for kernels that read two 16-bit values per int lane: within every chunk of
     * 2L columns the L even columns come first, then the L odd ones; a last partial chunk keeps its order.
     */
    static float[] splitPairs(float[] x, int n, int cols) {
        int chunk = 2 * L;
        float[] out = new float[n * cols];
        for (int t = 0; t < n; t++) {
            int base = t * cols, c = 0;
            for (; c + chunk <= cols; c += chunk) {
                for (int j = 0; j < L; j++) {
                    out[base + c + j] = x[base + c + 2 * j];
                    out[base + c + L + j] = x[base + c + 2 * j + 1];
                }
            }
            System.arraycopy(x, base + c, out, base + c, cols - c);
        }
        return out;
    }

    /**
     * Signed bytes {@code p .. p+L} of the run starting at {@code base}, widened to float. {@code p} is a multiple
     * of L; a load never reaches past {@code base + p + max(L, 8)}, so runs of 32 stay inside their block.
     */
    static FloatVector i8(MemorySegment w, long base, int p) {
        int bl = B.length();
        ByteVector bytes = ByteVector.fromMemorySegment(B, w, base + p / bl * bl, LE);
        return (FloatVector) bytes.convertShape(VectorOperators.B2F, F, p % bl / L);
    }

    static float f16At(MemorySegment w, long off) {
        return Float.float16ToFloat(w.get(Tensor.I16_LE, off));
    }
}
