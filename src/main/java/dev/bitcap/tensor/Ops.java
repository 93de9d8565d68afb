package dev.bitcap.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Element-wise and reduction kernels over float arrays, on the Vector API. Offsets index the arrays. */
public final class Ops {
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final int L = Lanes.L;

    private Ops() {}

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = Lanes.sum(acc);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /** y += a * x. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector va = FloatVector.broadcast(F, a);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(va, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** dst += src. */
    public static void add(float[] dst, int dOff, float[] src, int sOff, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(F, dst, dOff + i).add(FloatVector.fromArray(F, src, sOff + i)).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) dst[dOff + i] += src[sOff + i];
    }

    /** out = x / sqrt(mean(x²) + eps) * weight, in fp32 as transformers and llama2.c compute it; out may be x. */
    public static void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            acc = v.fma(v, acc);
        }
        float ss = Lanes.sum(acc);
        for (; i < n; i++) ss += x[xOff + i] * x[xOff + i];
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, oOff + i);
        }
        for (; i < n; i++) out[oOff + i] = x[xOff + i] * inv * weight[i];
    }

    /**
     * In-place softmax of {@code a[off .. off+n)}. Exponentials are scalar {@link Math#exp}: the vector EXP
     * operator gives different last bits before and after the JIT intrinsifies it, and results must not.
     */
    public static void softmax(float[] a, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (n >= L) {
            FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (int upper = F.loopBound(n); i < upper; i += L) m = m.max(FloatVector.fromArray(F, a, off + i));
            max = m.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) max = Math.max(max, a[off + i]);
        float sum = 0;
        for (i = 0; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - max);
            a[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) FloatVector.fromArray(F, a, off + i).mul(inv).intoArray(a, off + i);
        for (; i < n; i++) a[off + i] *= inv;
    }

    /** gate = silu(gate) * up, element-wise (scalar exp, for the reason given at {@link #softmax}). */
    public static void swiglu(float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gOff + i];
            gate[gOff + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uOff + i];
        }
    }

    /**
     * Index of the largest value; the first one on ties. NaN is never larger than anything, and nothing is larger than
     * NaN: NaNs are passed over, except at index 0, which then stays the answer (the CUDA kernel argmax_rows keeps this).
     */
    public static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }

    /** {@link #argmax} of each of the {@code rows} consecutive rows of {@code a}, rows of {@code a.length / rows} values. */
    public static int[] argmaxRows(float[] a, int rows) {
        int n = a.length / rows;
        int[] out = new int[rows];
        for (int r = 0; r < rows; r++) out[r] = argmax(a, r * n, n);
        return out;
    }
}
