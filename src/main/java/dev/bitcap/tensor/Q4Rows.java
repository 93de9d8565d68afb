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
     * Row by row: a four-row loop that shares activation loads was tried and ran several times slower here,
     * because its larger body exceeds the JIT's inlining budget and the vectors get boxed.
     */
    @Override
    public void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out) {
        for (int j = 0; j < 4; j++) out[j] = dot1(w, rowOff + j * rowBytes, x, 0, cols);
    }
}
