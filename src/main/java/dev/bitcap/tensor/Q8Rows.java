package dev.bitcap.tensor;

import static dev.bitcap.tensor.Lanes.F;
import static dev.bitcap.tensor.Lanes.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * GGML Q8_0 rows, read on their own blocks (fp16 scale, then 32 signed bytes): each block's codes are
 * widened to float, dotted with the activations, and the block sum is scaled once.
 */
final class Q8Rows implements RowKernel {
    static final Q8Rows INSTANCE = new Q8Rows();
    private static final int BLOCK = 32, BYTES = 34;

    @Override
    public float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols) {
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long b = rowOff + (long) blk * BYTES;
            FloatVector sum = FloatVector.zero(F);
            for (int p = 0; p < BLOCK; p += L) sum = Lanes.i8(w, b + 2, p).fma(FloatVector.fromArray(F, x, xOff + i + p), sum);
            acc = sum.fma(FloatVector.broadcast(F, Lanes.f16At(w, b)), acc);
        }
        return Lanes.sum(acc);
    }

    @Override
    public void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long b = rowOff + (long) blk * BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            for (int p = 0; p < BLOCK; p += L) {
                FloatVector q = Lanes.i8(w, b + 2, p);
                int o = xOff + i + p;
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

    @Override
    public void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long r1 = rowOff + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        for (int blk = 0, i = 0; i < cols; blk++, i += BLOCK) {
            long o = (long) blk * BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            for (int p = 0; p < BLOCK; p += L) {
                FloatVector xv = FloatVector.fromArray(F, x, i + p);
                s0 = Lanes.i8(w, rowOff + o + 2, p).fma(xv, s0);
                s1 = Lanes.i8(w, r1 + o + 2, p).fma(xv, s1);
                s2 = Lanes.i8(w, r2 + o + 2, p).fma(xv, s2);
                s3 = Lanes.i8(w, r3 + o + 2, p).fma(xv, s3);
            }
            a0 = s0.fma(FloatVector.broadcast(F, Lanes.f16At(w, rowOff + o)), a0);
            a1 = s1.fma(FloatVector.broadcast(F, Lanes.f16At(w, r1 + o)), a1);
            a2 = s2.fma(FloatVector.broadcast(F, Lanes.f16At(w, r2 + o)), a2);
            a3 = s3.fma(FloatVector.broadcast(F, Lanes.f16At(w, r3 + o)), a3);
        }
        out[0] = Lanes.sum(a0);
        out[1] = Lanes.sum(a1);
        out[2] = Lanes.sum(a2);
        out[3] = Lanes.sum(a3);
    }
}
