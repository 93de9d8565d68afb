package dev.bitcap.tensor;

import static dev.bitcap.tensor.Lanes.F;
import static dev.bitcap.tensor.Lanes.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML Q4_0 rows, read on their own blocks (fp16 scale, then 16 bytes whose low nibbles are elements 0..15
 * and high nibbles 16..31, offset by 8): nibbles are split and widened in registers, never stored as floats.
 */
final class Q4Rows implements RowKernel {
    static final Q4Rows INSTANCE = new Q4Rows();
    private static final int BLOCK = 32, BYTES = 18, HALF = 16;

    @Override
    public float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols) {
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long b = rowOff + (long) blk * BYTES;
            ByteVector packed = ByteVector.fromMemorySegment(Lanes.B16, w, b + 2, Lanes.LE);
            ByteVector lo = packed.and((byte) 0xF).sub((byte) 8);
            ByteVector hi = packed.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8);
            FloatVector sum = FloatVector.zero(F);
            for (int p = 0; p < HALF / L; p++) {
                sum = widen(lo, p).fma(FloatVector.fromArray(F, x, xOff + i + p * L), sum);
                sum = widen(hi, p).fma(FloatVector.fromArray(F, x, xOff + i + HALF + p * L), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, Lanes.f16At(w, b)), acc);
        }
        return Lanes.sum(acc);
    }

    @Override
    public void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long b = rowOff + (long) blk * BYTES;
            ByteVector packed = ByteVector.fromMemorySegment(Lanes.B16, w, b + 2, Lanes.LE);
            ByteVector lo = packed.and((byte) 0xF).sub((byte) 8);
            ByteVector hi = packed.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8);
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            for (int p = 0; p < HALF / L; p++) {
                FloatVector q = widen(lo, p);
                int o = xOff + i + p * L;
                s0 = q.fma(FloatVector.fromArray(F, x, o), s0);
                s1 = q.fma(FloatVector.fromArray(F, x, o + cols), s1);
                s2 = q.fma(FloatVector.fromArray(F, x, o + 2 * cols), s2);
                s3 = q.fma(FloatVector.fromArray(F, x, o + 3 * cols), s3);
                q = widen(hi, p);
                o += HALF;
                s0 = q.fma(FloatVector.fromArray(F, x, o), s0);
                s1 = q.fma(FloatVector.fromArray(F, x, o + cols), s1);
                s2 = q.fma(FloatVector.fromArray(F, x, o + 2 * cols), s2);
                s3 = q.fma(FloatVector.fromArray(F, x, o + 3 * cols), s3);
            }
            FloatVector d = FloatVector.broadcast(F, Lanes.f16At(w, b));
            a0 = s0.fma(d, a0);
            a1 = s1.fma(d, a1);
            a2 = s2.fma(d, a2);
            a3 = s3.fma(d, a3);
        }
        out[0] = Lanes.sum(a0);
        out[1] = Lanes.sum(a1);
        out[2] = Lanes.sum(a2);
        out[3] = Lanes.sum(a3);
    }

    /** Part p (L lanes) of 16 signed nibble values, as floats. */
    private static FloatVector widen(ByteVector codes, int p) {
        return (FloatVector) codes.convertShape(VectorOperators.B2F, F, p);
    }

    /**
     * Two rows at a time (two memory streams per core, and two independent accumulator chains); each row keeps
     * dot1's order, so results are bit-identical. Not four: that loop exceeds C2's node budget for inlining.
     */
    @Override
    public void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out) {
        rows2(w, rowOff, rowOff + rowBytes, x, cols, out, 0);
        rows2(w, rowOff + 2 * rowBytes, rowOff + 3 * rowBytes, x, cols, out, 2);
    }

    private static void rows2(MemorySegment w, long o0, long o1, float[] x, int cols, float[] out, int at) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long b0 = o0 + (long) blk * BYTES, b1 = o1 + (long) blk * BYTES;
            ByteVector packed0 = ByteVector.fromMemorySegment(Lanes.B16, w, b0 + 2, Lanes.LE);
            ByteVector packed1 = ByteVector.fromMemorySegment(Lanes.B16, w, b1 + 2, Lanes.LE);
            ByteVector lo0 = packed0.and((byte) 0xF).sub((byte) 8);
            ByteVector hi0 = packed0.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8);
            ByteVector lo1 = packed1.and((byte) 0xF).sub((byte) 8);
            ByteVector hi1 = packed1.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8);
            FloatVector sum0 = FloatVector.zero(F), sum1 = sum0;
            for (int p = 0; p < HALF / L; p++) {
                FloatVector xl = FloatVector.fromArray(F, x, i + p * L), xh = FloatVector.fromArray(F, x, i + HALF + p * L);
                sum0 = widen(lo0, p).fma(xl, sum0);
                sum1 = widen(lo1, p).fma(xl, sum1);
                sum0 = widen(hi0, p).fma(xh, sum0);
                sum1 = widen(hi1, p).fma(xh, sum1);
            }
            acc0 = sum0.fma(FloatVector.broadcast(F, Lanes.f16At(w, b0)), acc0);
            acc1 = sum1.fma(FloatVector.broadcast(F, Lanes.f16At(w, b1)), acc1);
        }
        out[at] = Lanes.sum(acc0);
        out[at + 1] = Lanes.sum(acc1);
    }
}
