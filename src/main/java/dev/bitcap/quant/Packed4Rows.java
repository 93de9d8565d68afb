package dev.bitcap.quant;

import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * 4-bit rows: a unit's 16 bytes widen to 16 int lanes; the low nibbles are codes 0..15 and the high nibbles codes
 * 16..31, each turned into values by one permute of the group's 16-entry table. Two accumulators per activation
 * row (low and high half of each unit).
 */
final class Packed4Rows extends PackedRowKernel {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private final FloatVector a, b;
    private final boolean zeroPoint;

    Packed4Rows(QuantizedTensor t, DecodeTable table) {
        super(t);
        this.a = tableVector(table.a());
        this.b = tableVector(table.b());
        this.zeroPoint = table.zeroPoint();
    }

    // A unit's 16 bytes are widened to ints where they are used, not in a helper method: a helper compiled on its own
    // (which C2 did after other formats had run in the same JVM) returns a boxed vector, and the matrix runs of `cap`
    // measured afp4 at 570-730 tok/s inline against 440-480 through the helper (2026-12-02).

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
            IntVector v = (IntVector) ByteVector.fromMemorySegment(B, codes, base + 16L * u, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector w0 = v.and(15).selectFrom(lut).reinterpretAsFloats();
            FloatVector w1 = v.lanewise(VectorOperators.LSHR, 4).selectFrom(lut).reinterpretAsFloats();
            int o = xOff + 32 * u;
            lo = w0.fma(FloatVector.fromArray(F, x, o), lo);
            hi = w1.fma(FloatVector.fromArray(F, x, o + 16), hi);
        }
        return sum(lo.add(hi));
    }

    @Override
    void dot2(int row0, int row1, float[] x, float[] out) {
        long base0 = row0 * rowBytes, base1 = row1 * rowBytes, pBase0 = row0 * paramRowBytes, pBase1 = row1 * paramRowBytes;
        FloatVector lo0 = FloatVector.zero(F), hi0 = lo0, lo1 = lo0, hi1 = lo0;
        IntVector lut0 = groupLut(pBase0, 0), lut1 = groupLut(pBase1, 0);
        for (int u = 0, g = 0, next = unitsPerGroup; u < units; u++) {
            if (u == next) {
                g++;
                lut0 = groupLut(pBase0, g);
                lut1 = groupLut(pBase1, g);
                next += unitsPerGroup;
            }
            IntVector v0 = (IntVector) ByteVector.fromMemorySegment(B, codes, base0 + 16L * u, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector v1 = (IntVector) ByteVector.fromMemorySegment(B, codes, base1 + 16L * u, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector xl = FloatVector.fromArray(F, x, 32 * u), xh = FloatVector.fromArray(F, x, 32 * u + 16);
            lo0 = v0.and(15).selectFrom(lut0).reinterpretAsFloats().fma(xl, lo0);
            hi0 = v0.lanewise(VectorOperators.LSHR, 4).selectFrom(lut0).reinterpretAsFloats().fma(xh, hi0);
            lo1 = v1.and(15).selectFrom(lut1).reinterpretAsFloats().fma(xl, lo1);
            hi1 = v1.lanewise(VectorOperators.LSHR, 4).selectFrom(lut1).reinterpretAsFloats().fma(xh, hi1);
        }
        lo0.add(hi0).intoArray(out, 0);
        lo1.add(hi1).intoArray(out, 16);
        out[0] = sum(out, 0);
        out[1] = sum(out, 16);
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
                IntVector v = (IntVector) ByteVector.fromMemorySegment(B, codes, base + 16L * u, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                FloatVector w0 = v.and(15).selectFrom(lut).reinterpretAsFloats();
                FloatVector w1 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(lut).reinterpretAsFloats();
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
