package dev.bitcap.quant;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * 8-bit rows of an affine format, value(c) = (c - z) * s (int8-asym; int8-sym has z = 128). A table of 256
 * entries does not fit a register, so codes are widened to floats instead: flipping the top bit makes the byte
 * the signed value c - 128, exact as a float, and subtracting z - 128 gives c - z exactly. Each group's products
 * with the activations are summed unscaled and multiplied by s once at the end of the group.
 */
final class Packed8Rows extends PackedRowKernel {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private final boolean zeroPoint;
    private final float fixedZero;

    Packed8Rows(QuantizedTensor t, DecodeTable table) {
        super(t);
        this.zeroPoint = table.zeroPoint();
        this.fixedZero = -table.a()[0];
    }

    /** Whether the table is (c - z) * p0 with z = p1 or with a fixed z. */
    static boolean isAffine(DecodeTable t) {
        for (int c = 0; c < t.a().length; c++) {
            if (t.b()[c] != 0 || t.a()[c] != c + (t.zeroPoint() ? 0 : t.a()[0])) return false;
        }
        return true;
    }

    private static FloatVector load(MemorySegment codes, long off, FloatVector shift) {
        ByteVector centred = ByteVector.fromMemorySegment(B, codes, off, LE).lanewise(VectorOperators.XOR, (byte) 0x80);
        return ((FloatVector) centred.convertShape(VectorOperators.B2F, F, 0)).sub(shift);
    }

    @Override
    public float dot1(int row, float[] x, int xOff) {
        long base = row * rowBytes, pBase = row * paramRowBytes;
        FloatVector zero = FloatVector.zero(F), acc0 = zero, acc1 = zero, s0 = zero, s1 = zero;
        FloatVector shift = shift(pBase, 0), scale = scale(pBase, 0);
        for (int u = 0, g = 0, next = unitsPerGroup; u < units; u++) {
            if (u == next) {
                acc0 = s0.fma(scale, acc0);
                acc1 = s1.fma(scale, acc1);
                s0 = zero;
                s1 = zero;
                g++;
                shift = shift(pBase, g);
                scale = scale(pBase, g);
                next += unitsPerGroup;
            }
            long off = base + 32L * u;
            int o = xOff + 32 * u;
            s0 = load(codes, off, shift).fma(FloatVector.fromArray(F, x, o), s0);
            s1 = load(codes, off + 16, shift).fma(FloatVector.fromArray(F, x, o + 16), s1);
        }
        acc0 = s0.fma(scale, acc0);
        acc1 = s1.fma(scale, acc1);
        return sum(acc0.add(acc1));
    }

    @Override
    void dot2(int row0, int row1, float[] x, float[] out) {
        long base0 = row0 * rowBytes, base1 = row1 * rowBytes, pBase0 = row0 * paramRowBytes, pBase1 = row1 * paramRowBytes;
        FloatVector zero = FloatVector.zero(F), a0 = zero, b0 = zero, s0 = zero, t0 = zero, a1 = zero, b1 = zero, s1 = zero, t1 = zero;
        FloatVector shift0 = shift(pBase0, 0), scale0 = scale(pBase0, 0), shift1 = shift(pBase1, 0), scale1 = scale(pBase1, 0);
        for (int u = 0, g = 0, next = unitsPerGroup; u < units; u++) {
            if (u == next) {
                a0 = s0.fma(scale0, a0);
                b0 = t0.fma(scale0, b0);
                a1 = s1.fma(scale1, a1);
                b1 = t1.fma(scale1, b1);
                s0 = zero;
                t0 = zero;
                s1 = zero;
                t1 = zero;
                g++;
                shift0 = shift(pBase0, g);
                scale0 = scale(pBase0, g);
                shift1 = shift(pBase1, g);
                scale1 = scale(pBase1, g);
                next += unitsPerGroup;
            }
            long off0 = base0 + 32L * u, off1 = base1 + 32L * u;
            FloatVector xl = FloatVector.fromArray(F, x, 32 * u), xh = FloatVector.fromArray(F, x, 32 * u + 16);
            s0 = load(codes, off0, shift0).fma(xl, s0);
            t0 = load(codes, off0 + 16, shift0).fma(xh, t0);
            s1 = load(codes, off1, shift1).fma(xl, s1);
            t1 = load(codes, off1 + 16, shift1).fma(xh, t1);
        }
        a0 = s0.fma(scale0, a0);
        b0 = t0.fma(scale0, b0);
        a1 = s1.fma(scale1, a1);
        b1 = t1.fma(scale1, b1);
        a0.add(b0).intoArray(out, 0);
        a1.add(b1).intoArray(out, 16);
        out[0] = sum(out, 0);
        out[1] = sum(out, 16);
    }

    /** The group's zero point minus 128, in every lane (see {@link #load}). */
    private FloatVector shift(long pBase, int g) {
        return FloatVector.broadcast(F, (zeroPoint ? param(pBase, g, 1) : fixedZero) - 128f);
    }

    private FloatVector scale(long pBase, int g) {
        return FloatVector.broadcast(F, param(pBase, g, 0));
    }

    @Override
    public void dot4(int row, float[] x, int xOff, int stride, float[] out) {
        long base = row * rowBytes, pBase = row * paramRowBytes;
        FloatVector zero = FloatVector.zero(F);
        FloatVector a0 = zero, a1 = zero, a2 = zero, a3 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero;
        int u = 0;
        for (int g = 0; g < groups; g++) {
            FloatVector shift = FloatVector.broadcast(F, (zeroPoint ? param(pBase, g, 1) : fixedZero) - 128f);
            FloatVector s0 = zero, s1 = zero, s2 = zero, s3 = zero, t0 = zero, t1 = zero, t2 = zero, t3 = zero;
            for (int end = Math.min(units, u + unitsPerGroup); u < end; u++) {
                long off = base + 32L * u;
                int o = xOff + 32 * u;
                FloatVector w0 = load(codes, off, shift), w1 = load(codes, off + 16, shift);
                s0 = w0.fma(FloatVector.fromArray(F, x, o), s0);
                t0 = w1.fma(FloatVector.fromArray(F, x, o + 16), t0);
                s1 = w0.fma(FloatVector.fromArray(F, x, o + stride), s1);
                t1 = w1.fma(FloatVector.fromArray(F, x, o + stride + 16), t1);
                s2 = w0.fma(FloatVector.fromArray(F, x, o + 2 * stride), s2);
                t2 = w1.fma(FloatVector.fromArray(F, x, o + 2 * stride + 16), t2);
                s3 = w0.fma(FloatVector.fromArray(F, x, o + 3 * stride), s3);
                t3 = w1.fma(FloatVector.fromArray(F, x, o + 3 * stride + 16), t3);
            }
            FloatVector s = FloatVector.broadcast(F, param(pBase, g, 0));
            a0 = s0.fma(s, a0);
            b0 = t0.fma(s, b0);
            a1 = s1.fma(s, a1);
            b1 = t1.fma(s, b1);
            a2 = s2.fma(s, a2);
            b2 = t2.fma(s, b2);
            a3 = s3.fma(s, a3);
            b3 = t3.fma(s, b3);
        }
        out[0] = sum(a0.add(b0));
        out[1] = sum(a1.add(b1));
        out[2] = sum(a2.add(b2));
        out[3] = sum(a3.add(b3));
    }
}
