package dev.bitcap.quant;

import dev.bitcap.tensor.Parallel;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Cholesky factorisations in double, for GPTQ. Matrices are {@code n x n}, row-major, dense.
 */
public final class Cholesky {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    private Cholesky() {}

    /** Thrown when a matrix is not (numerically) positive definite; {@code pivot} is the failing row. */
    public static final class NotPositiveDefinite extends Exception {
        private final int pivot;

        NotPositiveDefinite(int pivot, double value) {
            super("not positive definite: pivot " + pivot + " is " + value);
            this.pivot = pivot;
        }

        public int pivot() {
            return pivot;
        }
    }

    /**
     * The lower factor L with L·Lᵀ = a (only a's lower triangle is read), a new array whose upper triangle is
     * zero. Column by column (Crout): once L_jj is known, the entries below it are independent of each other, so
     * they are split between threads; every inner product runs over two contiguous row prefixes.
     */
    public static double[] lower(double[] a, int n) throws NotPositiveDefinite {
        double[] l = new double[Math.multiplyExact(n, n)];
        for (int j = 0; j < n; j++) {
            int rj = j * n;
            double s = a[rj + j] - dot(l, rj, l, rj, j);
            if (!(s > 0)) throw new NotPositiveDefinite(j, s);
            double d = Math.sqrt(s);
            l[rj + j] = d;
            int col = j, below = n - j - 1;
            // Small columns run inline: a parallel loop costs more than it saves below ~64k multiply-adds.
            Parallel.forRange(below, (long) below * j < 65536 ? Integer.MAX_VALUE : Math.max(1, 16384 / Math.max(1, j)), (i0, i1) -> {
                for (int i = col + 1 + i0; i < col + 1 + i1; i++) {
                    int ri = i * n;
                    l[ri + col] = (a[ri + col] - dot(l, ri, l, rj, col)) / d;
                }
            });
        }
        return l;
    }

    /**
     * The upper triangular U with Uᵀ·U = h⁻¹, for symmetric positive definite h (GPTQ's "Cholesky of the
     * inverse"). With J the order-reversing permutation: if J·h·J = L·Lᵀ then h = M·Mᵀ with M = J·L·J upper
     * triangular, so h⁻¹ = M⁻ᵀ·M⁻¹ and U = M⁻¹ = J·L⁻¹·J. One factorisation and one triangular inverse, without
     * forming h⁻¹.
     */
    public static double[] upperOfInverse(double[] h, int n) throws NotPositiveDefinite {
        double[] reversed = new double[Math.multiplyExact(n, n)];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
        }
        double[] inv = invertLower(lower(reversed, n), n);
        double[] u = reversed; // reuse: J·L⁻¹·J, upper triangular
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) u[i * n + j] = inv[(n - 1 - i) * n + (n - 1 - j)];
        }
        return u;
    }

    /**
     * The inverse of a lower triangular matrix with a positive diagonal, lower triangular. Row i of X = L⁻¹ is
     * (eᵢ − Σ_{k<i} L_ik·X_k)/L_ii; rows are independent given the earlier ones, so each row's sum is a run of
     * contiguous axpys, and the columns of a row are split between threads.
     */
    static double[] invertLower(double[] l, int n) {
        double[] x = new double[l.length];
        for (int i = 0; i < n; i++) {
            int ri = i * n;
            final int row = i;
            // Column ranges of row i are independent; parallel only when the row is long enough to pay for it.
            Parallel.forRange(i, i >= 512 ? 128 : Integer.MAX_VALUE, (start, end) -> {
                for (int k = Math.max(start, 0); k < row; k++) {
                    double lik = l[ri + k];
                    if (lik == 0) continue;
                    int rk = k * n;
                    int stop = Math.min(end, k + 1); // X_k is zero past column k
                    for (int j = start; j < stop; j++) x[ri + j] -= lik * x[rk + j];
                }
            });
            double d = l[ri + i];
            for (int j = 0; j < i; j++) x[ri + j] /= d;
            x[ri + i] = 1.0 / d;
        }
        return x;
    }

    static double dot(double[] a, int aOff, double[] b, int bOff, int len) {
        int i = 0;
        DoubleVector acc = DoubleVector.zero(D);
        for (int bound = D.loopBound(len); i < bound; i += D.length()) {
            acc = DoubleVector.fromArray(D, a, aOff + i).fma(DoubleVector.fromArray(D, b, bOff + i), acc);
        }
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }
}
