package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;

/**
 * y = x · Wᵀ for a weight matrix W [out, in] in its stored type and n activation rows x [n, in], giving y [n, out].
 * One row (decode) is a GEMV split over output rows. Several rows (prefill, batched decode) are a GEMM: output
 * rows are taken in blocks that stay in cache while every group of four activation rows passes over them, so
 * each weight is read from memory once per call, not once per token.
 */
public final class MatMul {
    /** Bytes of weights per block in the GEMM: small enough to stay in a core's L2 with its activations. */
    private static final long BLOCK_BYTES = 128 * 1024;
    private static final int GEMV_MIN_ROWS = 32;

    private MatMul() {}

    public static void matmul(Tensor w, float[] x, float[] y, int n) {
        if (w.rank() < 2 || w.rows() > Integer.MAX_VALUE || w.cols() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmul needs a matrix, got " + w);
        }
        int rows = (int) w.rows(), cols = (int) w.cols();
        if (x.length < (long) n * cols || y.length < (long) n * rows) {
            throw new IllegalArgumentException("matmul of " + w + " with " + n + " rows: x holds " + x.length
                    + " floats, y holds " + y.length);
        }
        RowKernel kernel = RowKernel.of(w.dtype());
        float[] xs = kernel.arrange(x, n, cols);
        long rowBytes = w.dtype().byteSize(cols);
        MemorySegment seg = w.data();
        if (n == 1) {
            Parallel.forRange(rows, GEMV_MIN_ROWS, (start, end) -> {
                float[] four = new float[4];
                int r = start;
                for (; r + 4 <= end; r += 4) {
                    kernel.rows4(seg, r * rowBytes, rowBytes, xs, cols, four);
                    System.arraycopy(four, 0, y, r, 4);
                }
                for (; r < end; r++) y[r] = kernel.dot1(seg, r * rowBytes, xs, 0, cols);
            });
            return;
        }
        int block = (int) Math.max(1, Math.min(rows, BLOCK_BYTES / rowBytes));
        int blocks = (rows + block - 1) / block;
        Parallel.forRange(blocks, 1, (first, last) -> {
            float[] four = new float[4];
            for (int b = first; b < last; b++) {
                int r0 = b * block, r1 = Math.min(rows, r0 + block);
                int t = 0;
                for (; t + 4 <= n; t += 4) {
                    for (int r = r0; r < r1; r++) {
                        kernel.dot4(seg, r * rowBytes, xs, t * cols, cols, four);
                        y[t * rows + r] = four[0];
                        y[(t + 1) * rows + r] = four[1];
                        y[(t + 2) * rows + r] = four[2];
                        y[(t + 3) * rows + r] = four[3];
                    }
                }
                for (; t < n; t++) {
                    for (int r = r0; r < r1; r++) y[t * rows + r] = kernel.dot1(seg, r * rowBytes, xs, t * cols, cols);
                }
            }
        });
    }
}
