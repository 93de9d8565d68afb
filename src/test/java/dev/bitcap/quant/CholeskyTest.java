package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class CholeskyTest {
    /** The classic example with an integer factor: every step is exact in double. */
    @Test
    void lowerFactorOfKnownMatrix() throws Exception {
        double[] a = {4, 12, -16, 12, 37, -43, -16, -43, 98};
        double[] l = Cholesky.lower(a, 3);
        assertArrayEquals(new double[] {2, 0, 0, 6, 1, 0, -8, 5, 3}, l, 0);
    }

    /** For that matrix h⁻¹ is known in closed form; U must be upper triangular with UᵀU = h⁻¹. */
    @Test
    void upperFactorOfInverseOfKnownMatrix() throws Exception {
        double[] a = {4, 12, -16, 12, 37, -43, -16, -43, 98};
        // a⁻¹ = adj(a)/det(a) = (1/36)·[[1777, -488, 76], [-488, 136, -20], [76, -20, 4]]
        double[] inv = {1777 / 36.0, -488 / 36.0, 76 / 36.0, -488 / 36.0, 136 / 36.0, -20 / 36.0, 76 / 36.0, -20 / 36.0, 4 / 36.0};
        double[] u = Cholesky.upperOfInverse(a, 3);
        assertEquals(0, u[3]);
        assertEquals(0, u[6]);
        assertEquals(0, u[7]);
        double[] utu = transposeTimes(u, 3);
        // Entries of a⁻¹ reach 50 and the factor has condition ~1e3: a few hundred ulps of 50 is ample.
        for (int i = 0; i < 9; i++) assertEquals(inv[i], utu[i], 1e-11, "entry " + i);
    }

    /** A random SPD matrix (BᵀB + n·I, condition number a few): UᵀU·h = I to within n²·eps·cond. */
    @Test
    void upperFactorOfInverseOfRandomMatrix() throws Exception {
        int n = 150;
        Random rnd = new Random(3);
        double[] b = new double[n * n];
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextGaussian();
        double[] h = transposeTimes(b, n);
        for (int i = 0; i < n; i++) h[i * n + i] += n;
        double[] u = Cholesky.upperOfInverse(h, n);
        for (int i = 0; i < n; i++) {
            assertTrue(u[i * n + i] > 0);
            for (int j = 0; j < i; j++) assertEquals(0, u[i * n + j]);
        }
        double[] inv = transposeTimes(u, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += inv[i * n + k] * h[k * n + j];
                assertEquals(i == j ? 1 : 0, s, n * n * 1e-15, i + "," + j);
            }
        }
    }

    @Test
    void rejectsIndefiniteMatrix() {
        Cholesky.NotPositiveDefinite e = assertThrows(Cholesky.NotPositiveDefinite.class, () -> Cholesky.lower(new double[] {1, 2, 2, 1}, 2));
        assertEquals(1, e.pivot());
        assertThrows(Cholesky.NotPositiveDefinite.class, () -> Cholesky.lower(new double[] {Double.NaN}, 1));
    }

    private static double[] transposeTimes(double[] m, int n) {
        double[] r = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
                r[i * n + j] = s;
            }
        }
        return r;
    }
}
