package dev.bitcap.tensor;

import static dev.bitcap.tensor.Lanes.F;
import static dev.bitcap.tensor.Lanes.I;
import static dev.bitcap.tensor.Lanes.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * F16 weight rows. Each int lane holds two stored values, so a load of L ints yields the L even and the L odd
 * elements of a chunk of 2L without any shape conversion; the activations are arranged to match once per
 * matmul (see {@link Lanes#splitPairs}). Two accumulators per activation row (evens, odds),
 * so that consecutive FMAs do not wait on each other; the same order in dot1 and dot4.
 */
final class F16Rows implements RowKernel {
    static final F16Rows INSTANCE = new F16Rows();
    private static final int CHUNK = 2 * L;

    @Override
    public float[] arrange(float[] x, int n, int cols) {
        return Lanes.splitPairs(x, n, cols);
    }

    @Override
    public float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols) {
        FloatVector a0 = FloatVector.zero(F), b0 = a0;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            IntVector pairs = IntVector.fromMemorySegment(I, w, rowOff + 2L * i, Lanes.LE);
            a0 = Lanes.f16Low(pairs).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            b0 = Lanes.f16High(pairs).fma(FloatVector.fromArray(F, x, xOff + i + L), b0);
        }
        float s = Lanes.sum(a0.add(b0));
        for (; i < cols; i++) s += Lanes.f16At(w, rowOff + 2L * i) * x[xOff + i];
        return s;
    }

    @Override
    public void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            IntVector pairs = IntVector.fromMemorySegment(I, w, rowOff + 2L * i, Lanes.LE);
            FloatVector even = Lanes.f16Low(pairs), odd = Lanes.f16High(pairs);
            int o = xOff + i;
            a0 = even.fma(FloatVector.fromArray(F, x, o), a0);
            b0 = odd.fma(FloatVector.fromArray(F, x, o + L), b0);
            a1 = even.fma(FloatVector.fromArray(F, x, o + cols), a1);
            b1 = odd.fma(FloatVector.fromArray(F, x, o + cols + L), b1);
            a2 = even.fma(FloatVector.fromArray(F, x, o + 2 * cols), a2);
            b2 = odd.fma(FloatVector.fromArray(F, x, o + 2 * cols + L), b2);
            a3 = even.fma(FloatVector.fromArray(F, x, o + 3 * cols), a3);
            b3 = odd.fma(FloatVector.fromArray(F, x, o + 3 * cols + L), b3);
        }
        float s0 = Lanes.sum(a0.add(b0)), s1 = Lanes.sum(a1.add(b1));
        float s2 = Lanes.sum(a2.add(b2)), s3 = Lanes.sum(a3.add(b3));
        for (; i < cols; i++) {
            float wi = Lanes.f16At(w, rowOff + 2L * i);
            s0 += wi * x[xOff + i];
            s1 += wi * x[xOff + cols + i];
            s2 += wi * x[xOff + 2 * cols + i];
            s3 += wi * x[xOff + 3 * cols + i];
        }
        out[0] = s0;
        out[1] = s1;
        out[2] = s2;
        out[3] = s3;
    }

    /**
     * Two rows at a time, so that each core streams two rows from memory in parallel (one stream per core ran at
     * about three quarters of the speed from DRAM); each row keeps dot1's accumulators and order, so results are
     * bit-identical. Not four: a four-row loop exceeds C2's node budget for inlining and its vectors get boxed.
     */
    @Override
    public void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out) {
        rows2(w, rowOff, rowOff + rowBytes, x, cols, out, 0);
        rows2(w, rowOff + 2 * rowBytes, rowOff + 3 * rowBytes, x, cols, out, 2);
    }

    private static void rows2(MemorySegment w, long o0, long o1, float[] x, int cols, float[] out, int at) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, b0 = a0, b1 = a0;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            FloatVector xe = FloatVector.fromArray(F, x, i), xo = FloatVector.fromArray(F, x, i + L);
            IntVector p0 = IntVector.fromMemorySegment(I, w, o0 + 2L * i, Lanes.LE);
            IntVector p1 = IntVector.fromMemorySegment(I, w, o1 + 2L * i, Lanes.LE);
            a0 = Lanes.f16Low(p0).fma(xe, a0);
            b0 = Lanes.f16High(p0).fma(xo, b0);
            a1 = Lanes.f16Low(p1).fma(xe, a1);
            b1 = Lanes.f16High(p1).fma(xo, b1);
        }
        float s0 = Lanes.sum(a0.add(b0)), s1 = Lanes.sum(a1.add(b1));
        for (; i < cols; i++) {
            s0 += Lanes.f16At(w, o0 + 2L * i) * x[i];
            s1 += Lanes.f16At(w, o1 + 2L * i) * x[i];
        }
        out[at] = s0;
        out[at + 1] = s1;
    }
}
