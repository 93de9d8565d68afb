package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GPTQ (Frantar et al. 2022) with group-wise parameters, as in AutoGPTQ without act-order: columns are quantized
 * left to right, and each column's rounding error, divided by U_ii, is pushed onto the columns not yet quantized
 * through row i of U, the upper Cholesky factor of H⁻¹. A group's parameters are fitted when its first column is
 * reached, from the group's weights as updated so far.
 *
 * <p>Every output row is independent given U (parameters are per row), so rows are split between threads, and each
 * thread runs the lazy-block schedule on a tile of rows: inside a block of columns the updates are applied at once,
 * the rest of the row gets the block's errors in one pass afterwards. The result equals the plain column-by-column
 * update up to the order of floating-point additions.
 */
public final class GptqQuantizer {
    /** Columns per lazy block, as in the reference implementation. */
    static final int BLOCK = 128;
    /** Rows processed together, so that a block of U read from memory serves several rows. */
    private static final int ROW_TILE = 16;
    /** Columns of the trailing update handled at once, so that the slice of U stays in cache across a row tile. */
    private static final int COLUMN_CHUNK = 512;
    private static final double DAMP = 0.01;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    private GptqQuantizer() {}

    /**
     * Quantizes {@code w} ({@code rows x cols}, row-major, rows = outputs) with the Hessian {@code h} = 2·XᵀX/n
     * ({@code cols x cols}, e.g. {@link LayerStatistics#hessian()}). Neither input is changed. {@code name} names
     * the layer in errors.
     */
    public static GroupQuantized quantize(String name, QuantFormat format, float[] w, int rows, int cols, int groupSize, double[] h) {
        LayerStatistics.checkLayer(name, w, rows, cols, groupSize);
        if ((long) cols * cols != h.length) {
            throw new BitcapException(name + ": Hessian has " + h.length + " values, expected " + cols + "x" + cols);
        }
        boolean[] dead = new boolean[cols];
        double[] u = inverseFactor(name, h, cols, dead);
        int groups = GroupQuantized.groupsPerRow(cols, groupSize);
        int pc = format.paramCount();
        int[] codes = new int[rows * cols];
        float[] params = new float[rows * groups * pc];
        // Groups must not straddle blocks: a group's weights have to be fully updated when it is fitted.
        int block = (BLOCK % groupSize == 0 || groupSize % BLOCK == 0) ? BLOCK : groupSize;
        Parallel.forRange((rows + ROW_TILE - 1) / ROW_TILE, 1, (t0, t1) -> {
            Tile tile = new Tile(Math.min(ROW_TILE, rows), cols, block, groupSize);
            for (int t = t0; t < t1; t++) {
                int r0 = t * ROW_TILE, r1 = Math.min(rows, r0 + ROW_TILE);
                tile.run(format, w, r0, r1, cols, groupSize, groups, dead, u, codes, params);
            }
        });
        return new GroupQuantized(format, rows, cols, groupSize, codes, params);
    }

    /**
     * Dead columns (H_ii == 0: the input is always zero) get H_ii = 1 and their weights are zeroed, as in the
     * reference; then 1% of the mean diagonal is added to the diagonal and U = chol(H⁻¹) upper is formed.
     */
    static double[] inverseFactor(String name, double[] h, int cols, boolean[] dead) {
        double[] damped = h.clone();
        for (double v : damped) {
            if (!Double.isFinite(v)) throw new BitcapException(name + ": Hessian holds " + v);
        }
        double trace = 0;
        for (int i = 0; i < cols; i++) {
            int d = i * cols + i;
            if (damped[d] == 0) {
                dead[i] = true;
                damped[d] = 1;
            }
            trace += damped[d];
        }
        double damp = DAMP * trace / cols;
        for (int i = 0; i < cols; i++) damped[i * cols + i] += damp;
        try {
            return Cholesky.upperOfInverse(damped, cols);
        } catch (Cholesky.NotPositiveDefinite e) {
            throw new BitcapException(name + ": Hessian is not positive definite even after 1% damping (pivot " + e.pivot() + ")");
        }
    }

    /** One thread's working state: a tile of rows in double, and the block's scaled errors. */
    private static final class Tile {
        private final double[] work;
        private final double[] err;
        private final float[] group;
        private final int block;

        Tile(int tileRows, int cols, int block, int groupSize) {
            this.work = new double[tileRows * cols];
            this.err = new double[tileRows * block];
            this.group = new float[groupSize];
            this.block = block;
        }

        void run(QuantFormat f, float[] w, int r0, int r1, int cols, int groupSize, int groups, boolean[] dead,
                 double[] u, int[] codes, float[] params) {
            int n = r1 - r0, pc = f.paramCount();
            for (int r = 0; r < n; r++) {
                for (int c = 0; c < cols; c++) work[r * cols + c] = dead[c] ? 0 : w[(r0 + r) * cols + c];
            }
            for (int b0 = 0; b0 < cols; b0 += block) {
                int b1 = Math.min(cols, b0 + block);
                for (int r = 0; r < n; r++) {
                    int row = r * cols, out = (r0 + r) * cols;
                    for (int i = b0; i < b1; i++) {
                        if (i % groupSize == 0) {
                            int len = Math.min(groupSize, cols - i);
                            float lo = 0, hi = 0;
                            for (int k = 0; k < len; k++) {
                                float v = (float) work[row + i + k];
                                group[k] = v;
                                lo = Math.min(lo, v);
                                hi = Math.max(hi, v);
                            }
                            f.fit(group, 0, len, lo, hi, params, ((r0 + r) * groups + i / groupSize) * pc);
                        }
                        int p = ((r0 + r) * groups + i / groupSize) * pc;
                        double wi = work[row + i];
                        int code = f.encode((float) wi, params, p);
                        codes[out + i] = code;
                        double e = (wi - f.decode(code, params, p)) / u[i * cols + i];
                        err[r * block + (i - b0)] = e;
                        axpy(-e, u, i * cols + i + 1, work, row + i + 1, b1 - i - 1);
                    }
                }
                // The rest of each row gets the whole block's errors: W[:, b1:] -= E · U[b0:b1, b1:].
                for (int c0 = b1; c0 < cols; c0 += COLUMN_CHUNK) {
                    int len = Math.min(COLUMN_CHUNK, cols - c0);
                    for (int r = 0; r < n; r++) {
                        int i = b0, e0 = r * block - b0;
                        for (; i + 4 <= b1; i += 4) {
                            axpy4(err[e0 + i], err[e0 + i + 1], err[e0 + i + 2], err[e0 + i + 3], u, i * cols + c0, cols, work, r * cols + c0, len);
                        }
                        for (; i < b1; i++) axpy(-err[e0 + i], u, i * cols + c0, work, r * cols + c0, len);
                    }
                }
            }
        }
    }

    /**
     * y −= e0·u0 + e1·u1 + e2·u2 + e3·u3 over {@code len} values, u_k starting at {@code uOff + k·stride}: four
     * rows of U per pass over y, so y is loaded and stored once per four updates instead of once per update.
     */
    private static void axpy4(double e0, double e1, double e2, double e3, double[] u, int uOff, int stride, double[] y, int yOff, int len) {
        int k = 0;
        if (len >= D.length()) {
            DoubleVector a0 = DoubleVector.broadcast(D, -e0), a1 = DoubleVector.broadcast(D, -e1);
            DoubleVector a2 = DoubleVector.broadcast(D, -e2), a3 = DoubleVector.broadcast(D, -e3);
            for (int bound = D.loopBound(len); k < bound; k += D.length()) {
                DoubleVector acc = DoubleVector.fromArray(D, y, yOff + k);
                acc = DoubleVector.fromArray(D, u, uOff + k).fma(a0, acc);
                acc = DoubleVector.fromArray(D, u, uOff + stride + k).fma(a1, acc);
                acc = DoubleVector.fromArray(D, u, uOff + 2 * stride + k).fma(a2, acc);
                acc = DoubleVector.fromArray(D, u, uOff + 3 * stride + k).fma(a3, acc);
                acc.intoArray(y, yOff + k);
            }
        }
        for (; k < len; k++) {
            y[yOff + k] = y[yOff + k] - e0 * u[uOff + k] - e1 * u[uOff + stride + k] - e2 * u[uOff + 2 * stride + k] - e3 * u[uOff + 3 * stride + k];
        }
    }

    /** y[yOff ..] += a · x[xOff ..], {@code len} values. */
    private static void axpy(double a, double[] x, int xOff, double[] y, int yOff, int len) {
        int k = 0;
        if (len >= D.length()) {
            DoubleVector av = DoubleVector.broadcast(D, a);
            for (int bound = D.loopBound(len); k < bound; k += D.length()) {
                DoubleVector.fromArray(D, x, xOff + k).fma(av, DoubleVector.fromArray(D, y, yOff + k)).intoArray(y, yOff + k);
            }
        }
        for (; k < len; k++) y[yOff + k] += a * x[xOff + k];
    }
}
