package dev.bitcap.quant;

import dev.bitcap.tensor.Parallel;

/**
 * Dot products of one stored row with activation rows padded to {@code stride} columns, and the GEMM that packed
 * and binary matrices share: blocks of rows stay in cache while every group of four activation rows passes over
 * them, so each weight is read once per call.
 */
interface RowDots {
    /** Packed bytes per GEMM block: small enough to stay in a core's L2 with its activations. */
    long BLOCK_BYTES = 64 * 1024;

    float dot1(int row, float[] x, int xOff);

    /** The row against activation rows t = 0..3, converting each chunk of codes once. */
    void dot4(int row, float[] x, int xOff, int stride, float[] out);

    /** y[t * rows + r] = row r · activation row t for n ≥ 2 activation rows of {@code xs}. */
    static void gemm(RowDots kernel, int rows, long rowBytes, float[] xs, int stride, float[] y, int n) {
        int block = (int) Math.max(1, Math.min(rows, BLOCK_BYTES / rowBytes));
        int blocks = (rows + block - 1) / block;
        Parallel.forRange(blocks, 1, (first, last) -> {
            float[] four = new float[4];
            for (int b = first; b < last; b++) {
                int r0 = b * block, r1 = Math.min(rows, r0 + block);
                int t = 0;
                for (; t + 4 <= n; t += 4) {
                    for (int r = r0; r < r1; r++) {
                        kernel.dot4(r, xs, t * stride, stride, four);
                        for (int k = 0; k < 4; k++) y[(t + k) * rows + r] = four[k];
                    }
                }
                for (; t < n; t++) {
                    for (int r = r0; r < r1; r++) y[t * rows + r] = kernel.dot1(r, xs, t * stride);
                }
            }
        });
    }
}
