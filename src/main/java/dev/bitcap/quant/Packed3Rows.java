package dev.bitcap.quant;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * 3-bit rows: the low two bits come from the unit's first 8 bytes exactly as in {@link Packed2Rows}; the third
 * bit of code j is bit j of the word at byte 8, broadcast to all lanes and shifted right by the lane's code index.
 */
final class Packed3Rows extends PackedRowKernel {
    private static final IntVector FIRST = IntVector.fromArray(I, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final IntVector SECOND = FIRST.add(16);
    private final FloatVector a, b;
    private final boolean zeroPoint;

    Packed3Rows(QuantizedTensor t, DecodeTable table) {
        super(t);
        this.a = tableVector(table.a());
        this.b = tableVector(table.b());
        this.zeroPoint = table.zeroPoint();
    }

    private static IntVector third(IntVector high, IntVector index) {
        return high.lanewise(VectorOperators.LSHR, index).and(1).lanewise(VectorOperators.LSHL, 2);
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
            long off = base + 12L * u;
            IntVector v = Packed2Rows.load(codes, off);
            IntVector high = IntVector.broadcast(I, codes.get(PackedCodes.I32, off + 8));
            int o = xOff + 32 * u;
            lo = Packed2Rows.lowCodes(v).or(third(high, FIRST)).selectFrom(lut).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, o), lo);
            hi = Packed2Rows.highCodes(v).or(third(high, SECOND)).selectFrom(lut).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, o + 16), hi);
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
                long off = base + 12L * u;
                IntVector v = Packed2Rows.load(codes, off);
                IntVector high = IntVector.broadcast(I, codes.get(PackedCodes.I32, off + 8));
                FloatVector w0 = Packed2Rows.lowCodes(v).or(third(high, FIRST)).selectFrom(lut).reinterpretAsFloats();
                FloatVector w1 = Packed2Rows.highCodes(v).or(third(high, SECOND)).selectFrom(lut).reinterpretAsFloats();
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
