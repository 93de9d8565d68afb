package dev.bitcap.tensor;

import static dev.bitcap.tensor.Lanes.F;
import static dev.bitcap.tensor.Lanes.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * F32 weight rows. Two accumulators per activation row (alternate vectors of a chunk of 2L), so that consecutive
 * FMAs do not wait on each other; dot1 and dot4 add in the same order.
 */
final class F32Rows implements RowKernel {
    static final F32Rows INSTANCE = new F32Rows();
    private static final int CHUNK = 2 * L;

    @Override
    public float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols) {
        FloatVector a0 = FloatVector.zero(F), b0 = a0;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            a0 = Lanes.f32(w, rowOff + 4L * i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            b0 = Lanes.f32(w, rowOff + 4L * (i + L)).fma(FloatVector.fromArray(F, x, xOff + i + L), b0);
        }
        float s = Lanes.sum(a0.add(b0));
        for (; i < cols; i++) s += w.get(Tensor.F32_LE, rowOff + 4L * i) * x[xOff + i];
        return s;
    }

    @Override
    public void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            FloatVector wa = Lanes.f32(w, rowOff + 4L * i), wb = Lanes.f32(w, rowOff + 4L * (i + L));
            int o = xOff + i;
            a0 = wa.fma(FloatVector.fromArray(F, x, o), a0);
            b0 = wb.fma(FloatVector.fromArray(F, x, o + L), b0);
            a1 = wa.fma(FloatVector.fromArray(F, x, o + cols), a1);
            b1 = wb.fma(FloatVector.fromArray(F, x, o + cols + L), b1);
            a2 = wa.fma(FloatVector.fromArray(F, x, o + 2 * cols), a2);
            b2 = wb.fma(FloatVector.fromArray(F, x, o + 2 * cols + L), b2);
            a3 = wa.fma(FloatVector.fromArray(F, x, o + 3 * cols), a3);
            b3 = wb.fma(FloatVector.fromArray(F, x, o + 3 * cols + L), b3);
        }
        float s0 = Lanes.sum(a0.add(b0)), s1 = Lanes.sum(a1.add(b1));
        float s2 = Lanes.sum(a2.add(b2)), s3 = Lanes.sum(a3.add(b3));
        for (; i < cols; i++) {
            float wi = w.get(Tensor.F32_LE, rowOff + 4L * i);
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

    @Override
    public void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long r1 = rowOff + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        int i = 0;
        for (; i + CHUNK <= cols; i += CHUNK) {
            FloatVector xa = FloatVector.fromArray(F, x, i), xb = FloatVector.fromArray(F, x, i + L);
            long o = 4L * i, ob = 4L * (i + L);
            a0 = Lanes.f32(w, rowOff + o).fma(xa, a0);
            b0 = Lanes.f32(w, rowOff + ob).fma(xb, b0);
            a1 = Lanes.f32(w, r1 + o).fma(xa, a1);
            b1 = Lanes.f32(w, r1 + ob).fma(xb, b1);
            a2 = Lanes.f32(w, r2 + o).fma(xa, a2);
            b2 = Lanes.f32(w, r2 + ob).fma(xb, b2);
            a3 = Lanes.f32(w, r3 + o).fma(xa, a3);
            b3 = Lanes.f32(w, r3 + ob).fma(xb, b3);
        }
        float s0 = Lanes.sum(a0.add(b0)), s1 = Lanes.sum(a1.add(b1));
        float s2 = Lanes.sum(a2.add(b2)), s3 = Lanes.sum(a3.add(b3));
        for (; i < cols; i++) {
            s0 += w.get(Tensor.F32_LE, rowOff + 4L * i) * x[i];
            s1 += w.get(Tensor.F32_LE, r1 + 4L * i) * x[i];
            s2 += w.get(Tensor.F32_LE, r2 + 4L * i) * x[i];
            s3 += w.get(Tensor.F32_LE, r3 + 4L * i) * x[i];
        }
        out[0] = s0;
        out[1] = s1;
        out[2] = s2;
        out[3] = s3;
    }
}
