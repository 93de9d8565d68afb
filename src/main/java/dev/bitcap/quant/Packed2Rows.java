package dev.bitcap.quant;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

/**
 * 2-bit rows: a unit's 8 bytes are broadcast into both halves of a 16-byte vector and widened to 16 int lanes, so
 * lane j holds byte j mod 8; shifting lanes 0..7 by 0 and lanes 8..15 by 2 gives codes 0..15 in order, shifting
 * by 4 and 6 gives codes 16..31. One permute of the group's table turns 16 codes into values.
 */
final class Packed2Rows extends PackedRowKernel {
    private static final IntVector SHIFT_LOW = IntVector.fromArray(I, new int[] {0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2}, 0);
    private static final IntVector SHIFT_HIGH = IntVector.fromArray(I, new int[] {4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6}, 0);
    private final FloatVector a, b;
    private final boolean zeroPoint;

    Packed2Rows(QuantizedTensor t, DecodeTable table) {
        super(t);
        this.a = tableVector(table.a());
        this.b = tableVector(table.b());
        this.zeroPoint = table.zeroPoint();
    }

    /** The unit's 8 bytes in lanes 0..7 and again in 8..15. */
    static IntVector load(MemorySegment codes, long off) {
        long word = codes.get(PackedCodes.I64, off);
        return (IntVector) LongVector.broadcast(LongVector.SPECIES_128, word).reinterpretAsBytes()
                .convertShape(VectorOperators.B2I, I, 0);
    }

    static IntVector lowCodes(IntVector v) {
        return v.lanewise(VectorOperators.LSHR, SHIFT_LOW).and(3);
    }

    static IntVector highCodes(IntVector v) {
        return v.lanewise(VectorOperators.LSHR, SHIFT_HIGH).and(3);
    }

    @Override
    public float dot1(int row, float[] x, int xOff) {
        long base = row * rowBytes, pBase = row * paramRowBytes;
        FloatVector lo = FloatVector.zero(F), hi = lo;
        IntVector lut = groupLut(pBase, 0);
        for (int u = 0, g = 0, next = unitsPerGroup; u < units; u++) {
            if (u == next) {
                lut = groupLut(pBase, ++g);
                next += unitsPerGroup;
            }
            IntVector v = load(codes, base + 8L * u);
            int o = xOff + 32 * u;
            lo = lowCodes(v).selectFrom(lut).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, o), lo);
            hi = highCodes(v).selectFrom(lut).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, o + 16), hi);
        }
        return sum(lo.add(hi));
    }

    private IntVector groupLut(long pBase, int g) {
        return lut(a, b, zeroPoint, param(pBase, g, 0), paramCount > 1 ? param(pBase, g, 1) : 0f);
    }

    @Override
    public void dot4(int row, float[] x, int xOff, int stride, float[] out) {
        long base = row * rowBytes, pBase = row * paramRowBytes;
        FloatVector lo0 = FloatVector.zero(F), lo1 = lo0, lo2 = lo0, lo3 = lo0, hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
        int u = 0;
        for (int g = 0; g < groups; g++) {
            IntVector lut = lut(a, b, zeroPoint, param(pBase, g, 0), paramCount > 1 ? param(pBase, g, 1) : 0f);
            for (int end = Math.min(units, u + unitsPerGroup); u < end; u++) {
                IntVector v = load(codes, base + 8L * u);
                FloatVector w0 = lowCodes(v).selectFrom(lut).reinterpretAsFloats();
                FloatVector w1 = highCodes(v).selectFrom(lut).reinterpretAsFloats();
                int o = xOff + 32 * u;
                lo0 = w0.fma(FloatVector.fromArray(F, x, o), lo0);
                hi0 = w1.fma(FloatVector.fromArray(F, x, o + 16), hi0);
                lo1 = w0.fma(FloatVector.fromArray(F, x, o + stride), lo1);
                hi1 = w1.fma(FloatVector.fromArray(F, x, o + stride + 16), hi1);
                lo2 = w0.fma(FloatVector.fromArray(F, x, o + 2 * stride), lo2);
                hi2 = w1.fma(FloatVector.fromArray(F, x, o + 2 * stride + 16), hi2);
                lo3 = w0.fma(FloatVector.fromArray(F, x, o + 3 * stride), lo3);
                hi3 = w1.fma(FloatVector.fromArray(F, x, o + 3 * stride + 16), hi3);
            }
        }
        out[0] = sum(lo0.add(hi0));
        out[1] = sum(lo1.add(hi1));
        out[2] = sum(lo2.add(hi2));
        out[3] = sum(lo3.add(hi3));
    }
}
