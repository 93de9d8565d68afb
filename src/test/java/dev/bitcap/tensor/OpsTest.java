package dev.bitcap.tensor;

import static dev.bitcap.tensor.KernelRefs.U;
import static dev.bitcap.tensor.KernelRefs.gamma;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops} against double references, at nonzero offsets, for lengths below, at and above the vector length
 * (8 or 16 lanes) so that both the vector body and the scalar tail run. Each in-place op must leave the
 * elements outside its range alone (checked through sentinels around the range).
 */
class OpsTest {
    private static final int[] SIZES = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000};
    private static final float SENTINEL = 12345.678f;

    /** n values at offset off inside a larger array whose other slots hold the sentinel. */
    private static float[] padded(Random rnd, int off, int n, double sigma) {
        float[] a = new float[off + n + 9];
        Arrays.fill(a, SENTINEL);
        for (int i = 0; i < n; i++) a[off + i] = (float) (rnd.nextGaussian() * sigma);
        return a;
    }

    private static void assertOutsideUntouched(float[] a, int off, int n) {
        for (int i = 0; i < a.length; i++) {
            if (i < off || i >= off + n) assertEquals(SENTINEL, a[i], "slot " + i + " outside [" + off + ", " + (off + n) + ")");
        }
    }

    private static void within(double got, double want, double tol, String what) {
        if (!(Math.abs(got - want) <= tol)) fail(what + ": got " + got + ", want " + want + ", tolerance " + tol);
    }

    @Test
    void dotMatchesReference() {
        Random rnd = new Random(1);
        for (int n : SIZES) {
            float[] a = padded(rnd, 3, n, 1), b = padded(rnd, 11, n, 1);
            double s = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                double p = (double) a[3 + i] * b[11 + i];
                s += p;
                mag += Math.abs(p);
            }
            // lane chains, lane reduction and tail: at most n + 1 roundings on any product's path
            within(Ops.dot(a, 3, b, 11, n), s, gamma(n + 1) * mag, "dot n=" + n);
        }
        assertEquals(0f, Ops.dot(new float[4], 0, new float[4], 0, 0));
    }

    @Test
    void axpyMatchesReference() {
        Random rnd = new Random(2);
        float alpha = -1.7f;
        for (int n : SIZES) {
            float[] x = padded(rnd, 5, n, 1), y = padded(rnd, 2, n, 1), y0 = y.clone();
            Ops.axpy(alpha, x, 5, y, 2, n);
            for (int i = 0; i < n; i++) {
                double ax = (double) alpha * x[5 + i];
                // fma (one rounding) in the body, multiply then add (two) in the tail
                within(y[2 + i], ax + y0[2 + i], gamma(2) * (Math.abs(ax) + Math.abs(y0[2 + i])), "axpy n=" + n + " i=" + i);
            }
            assertOutsideUntouched(y, 2, n);
        }
    }

    @Test
    void addIsExactlyRoundedSum() {
        Random rnd = new Random(3);
        for (int n : SIZES) {
            float[] dst = padded(rnd, 4, n, 1), src = padded(rnd, 1, n, 100), d0 = dst.clone();
            Ops.add(dst, 4, src, 1, n);
            // A float sum rounded once; rounding the exact double sum to float gives the same bits (53 >= 2*24+2).
            float[] want = new float[n], got = new float[n];
            for (int i = 0; i < n; i++) {
                want[i] = (float) ((double) d0[4 + i] + src[1 + i]);
                got[i] = dst[4 + i];
            }
            assertArrayEquals(want, got, "add n=" + n);
            assertOutsideUntouched(dst, 4, n);
        }
    }

    @Test
    void rmsnormMatchesReferenceAndWorksInPlace() {
        Random rnd = new Random(4);
        float eps = 1e-5f;
        for (int n : SIZES) {
            float[] x = padded(rnd, 6, n, 3);
            float[] weight = KernelRefs.gaussian(rnd, n, 1);
            float[] out = padded(rnd, 2, n, 0);
            Arrays.fill(out, 2, 2 + n, 0f);
            Ops.rmsnorm(out, 2, x, 6, weight, n, eps);

            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double) x[6 + i] * x[6 + i];
            double inv = 1 / Math.sqrt(ss / n + eps);
            // Sum of squares (n + 1 roundings), divide by n, add eps: relative error θ <= γ(n+3) on the mean;
            // 1/sqrt halves it; the double sqrt and float cast add u + 2^-50; two float multiplies add γ(2).
            double g = gamma(n + 3);
            double relInv = g / 2 / Math.pow(1 - g, 1.5) + U + 0x1p-50;
            double rel = relInv + gamma(2) + relInv * gamma(2);
            for (int i = 0; i < n; i++) {
                double want = x[6 + i] * inv * weight[i];
                within(out[2 + i], want, rel * Math.abs(want), "rmsnorm n=" + n + " i=" + i);
            }
            assertOutsideUntouched(out, 2, n);

            // out == x at the same offset: every element is read before it is written, so same bits.
            float[] inPlace = x.clone();
            Ops.rmsnorm(inPlace, 6, inPlace, 6, weight, n, eps);
            assertArrayEquals(Arrays.copyOfRange(out, 2, 2 + n), Arrays.copyOfRange(inPlace, 6, 6 + n), "in place n=" + n);
            assertOutsideUntouched(inPlace, 6, n);
        }
    }

    @Test
    void softmaxMatchesReference() {
        Random rnd = new Random(5);
        for (int n : SIZES) checkSoftmax(padded(rnd, 7, n, 3), 7, n);
    }

    @Test
    void softmaxOfLargeLogitsDoesNotOverflow() {
        checkSoftmax(new float[] {SENTINEL, 1000f, 999.5f, 998f, -1000f, 1000f, 3f, SENTINEL}, 1, 6);
        Random rnd = new Random(6);
        for (int n : new int[] {1, 5, 17, 40}) {
            float[] a = padded(rnd, 3, n, 1);
            for (int i = 0; i < n; i++) a[3 + i] += i % 3 == 0 ? 1000f : -1000f;
            checkSoftmax(a, 3, n);
        }
        float[] hot = {SENTINEL, 88.8f, 89f, 100f, SENTINEL}; // exp of any of these alone overflows float
        checkSoftmax(hot, 1, 3);
    }

    /**
     * Per element: a - max rounds (relative u·|a - max| after exp), exp is within 1 ulp (2u; the Vector API
     * follows Math.exp's spec), the float sum of n positive terms is within γ(n+1), then 1/sum and the scaling
     * each round once. Entries whose exp underflows get an absolute allowance of MIN_NORMAL.
     */
    private static void checkSoftmax(float[] a, int off, int n) {
        float[] in = a.clone();
        Ops.softmax(a, off, n);
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, in[off + i]);
        double sum = 0, rMax = 0;
        double[] e = new double[n], r = new double[n];
        for (int i = 0; i < n; i++) {
            e[i] = Math.exp(in[off + i] - max);
            sum += e[i];
            r[i] = Math.expm1(Math.abs(in[off + i] - max) * U) + 2 * U;
            rMax = Math.max(rMax, r[i]);
        }
        double g = gamma(n + 1);
        double total = 0, budget = 0;
        for (int i = 0; i < n; i++) {
            double p = e[i] / sum;
            double rel = (1 + r[i]) * (1 + gamma(2)) / ((1 - rMax) * (1 - g)) - 1;
            double tol = rel * p + Float.MIN_NORMAL;
            float got = a[off + i];
            assertTrue(Float.isFinite(got), "softmax produced " + got);
            within(got, p, tol, "softmax n=" + n + " i=" + i);
            total += got;
            budget += tol;
        }
        within(total, 1, budget, "softmax sum n=" + n);
        assertOutsideUntouched(a, off, n);
    }

    @Test
    void swigluMatchesReference() {
        Random rnd = new Random(7);
        for (int n : SIZES) check(padded(rnd, 2, n, 4), padded(rnd, 9, n, 1), 2, 9, n);
        // exp(-g) overflows float below about -88.7 and vanishes above; 1000 and -1000 must stay finite
        float[] gate = {SENTINEL, -1000, -100, -88.8f, -88, -20, -0f, 0, 1e-30f, 20, 88, 100, 1000, -3, 3, 0.5f, -0.5f, 2, SENTINEL};
        float[] up = new float[gate.length];
        for (int i = 0; i < up.length; i++) up[i] = i % 2 == 0 ? 1 : -2;
        check(gate, up, 1, 0, gate.length - 2);
    }

    /**
     * Vector body: exp(-g) within 1 ulp (2u) becomes at most 3u relative after adding 1, then divide and
     * multiply round once each; the tail rounds a double silu and the multiply. When exp(-g) overflows to inf
     * the body returns -0 where the true silu is below 89·2^-128 in magnitude: that much is allowed absolutely.
     */
    private static void check(float[] gate, float[] up, int gOff, int uOff, int n) {
        float[] g0 = gate.clone();
        Ops.swiglu(gate, gOff, up, uOff, n);
        double rel = (1 + 3 * U / (1 - 3 * U)) * (1 + U) * (1 + U) - 1;
        for (int i = 0; i < n; i++) {
            double g = g0[gOff + i], u = up[uOff + i];
            double want = g / (1 + Math.exp(-g)) * u;
            float got = gate[gOff + i];
            assertTrue(Float.isFinite(got), "swiglu(" + g + ") gave " + got);
            within(got, want, rel * Math.abs(want) + 89 * 0x1p-128 * Math.abs(u), "swiglu g=" + g);
        }
        for (int i = 0; i < gate.length; i++) {
            if (i < gOff || i >= gOff + n) assertEquals(g0[i], gate[i], "slot " + i);
        }
    }

    @Test
    void argmaxTakesTheFirstMaximumInRange() {
        float[] a = {99, -5, -2, -7, -2, -3, 99};
        assertEquals(1, Ops.argmax(a, 1, 5)); // -2 at relative 1 and 3: the first; the 99s lie outside
        assertEquals(0, Ops.argmax(new float[] {4, 4, 4}, 0, 3));
        assertEquals(0, Ops.argmax(new float[] {7}, 0, 1));
        assertEquals(1, Ops.argmax(new float[] {0, 1, 2, 3}, 1, 2)); // relative to off
        assertEquals(1, Ops.argmax(new float[] {Float.NEGATIVE_INFINITY, -0f, 0f}, 0, 3));
        Random rnd = new Random(8);
        for (int n : SIZES) {
            float[] v = padded(rnd, 4, n, 1);
            for (int i = 0; i < n; i++) v[4 + i] = Math.round(v[4 + i] * 2); // few distinct values: many ties
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, v[4 + i]);
            int want = 0;
            while (v[4 + want] != max) want++;
            assertEquals(want, Ops.argmax(v, 4, n), "n=" + n);
        }
    }

    /** The NaN rule that argmax_rows (ops.cu) reproduces: NaNs are passed over, unless the range starts with one. */
    @Test
    void argmaxPassesOverNaNsButKeepsALeadingOne() {
        float nan = Float.NaN;
        assertEquals(2, Ops.argmax(new float[] {1, nan, 3, nan, 2}, 0, 5));
        assertEquals(0, Ops.argmax(new float[] {nan, 1, 3}, 0, 3));
        assertEquals(0, Ops.argmax(new float[] {nan, nan}, 0, 2));
        assertEquals(0, Ops.argmax(new float[] {Float.NEGATIVE_INFINITY, nan, 0, nan}, 1, 3), "a NaN at off leads the range");
    }

    @Test
    void argmaxRowsTakesEachRowsArgmax() {
        float[] a = {0, 5, 5, /* */ 9, 1, 2, /* */ -1, -1, 0};
        assertArrayEquals(new int[] {1, 0, 2}, Ops.argmaxRows(a, 3));
    }
}
