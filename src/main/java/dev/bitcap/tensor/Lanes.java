package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Vector species shared by the row kernels and the loads that widen stored values to float lanes. */
final class Lanes {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    /** Bytes for L lanes, at least the smallest vector shape (64 bits) on narrow machines. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

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
     * L fp16 values widened to float: the magnitude bits moved into float position and re-biased by 2^112
     * (exact for normals and subnormals). fp16 infinities and NaNs become large finite values; weights hold none.
     */
    static FloatVector f16(MemorySegment w, long off) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(S, w, off, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector bits = i.and(0x7FFF).lanewise(VectorOperators.LSHL, 13).or(i.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.reinterpretAsFloats().mul(0x1p112f);
    }

    /** L bf16 values widened to float (exact). */
    static FloatVector bf16(MemorySegment w, long off) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(S, w, off, LE).convertShape(VectorOperators.S2I, I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
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
