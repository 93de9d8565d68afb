package dev.bitcap.tensor;

import static dev.bitcap.tensor.Lanes.F;
import static dev.bitcap.tensor.Lanes.L;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/** BF16 weight rows: widened to float lanes, one accumulator per activation row. */
final class Bf16Rows implements RowKernel {
    static final Bf16Rows INSTANCE = new Bf16Rows();

    @Override
    public float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols) {
        FloatVector a0 = FloatVector.zero(F);
        int i = 0;
        for (int upper = F.loopBound(cols); i < upper; i += L) {
            a0 = Lanes.bf16(w, rowOff + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
        }
        float s = Lanes.sum(a0);
        for (; i < cols; i++) s += Halfs.bf16ToF32(w.get(Tensor.I16_LE, rowOff + 2L * i)) * x[xOff + i];
        return s;
    }

    @Override
    public void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = F.loopBound(cols); i < upper; i += L) {
            FloatVector wv = Lanes.bf16(w, rowOff + 2L * i);
            a0 = wv.fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = wv.fma(FloatVector.fromArray(F, x, xOff + cols + i), a1);
            a2 = wv.fma(FloatVector.fromArray(F, x, xOff + 2 * cols + i), a2);
            a3 = wv.fma(FloatVector.fromArray(F, x, xOff + 3 * cols + i), a3);
        }
        float s0 = Lanes.sum(a0), s1 = Lanes.sum(a1);
        float s2 = Lanes.sum(a2), s3 = Lanes.sum(a3);
        for (; i < cols; i++) {
            float wi = Halfs.bf16ToF32(w.get(Tensor.I16_LE, rowOff + 2L * i));
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
}
