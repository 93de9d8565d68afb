package dev.bitcap.quant;

import dev.bitcap.tensor.Parallel;

/**
 * y = x · Wᵀ over a {@link QuantizedTensor}, the dequantization fused into the dot products. The activations are
 * copied once per call into rows padded to whole 32-code units (zeros past {@code cols}, input scale applied).
 * One activation row is a GEMV split over output rows; several are a GEMM in blocks of output rows that stay in
 * cache while every group of four activation rows passes over them, so each weight is read once per call.
 */
final class QuantizedMatMul {
    private static final int GEMV_MIN_ROWS = 32;

    private QuantizedMatMul() {}

    static void matmul(QuantizedTensor w, float[] x, float[] y, int n) {
        int rows = (int) w.rows(), cols = (int) w.cols();
        if (n <= 0 || x.length < (long) n * cols || y.length < (long) n * rows) {
            throw new IllegalArgumentException("matmul of " + w + " with " + n + " rows: x holds " + x.length
                    + " floats, y holds " + y.length);
        }
        int stride = w.cols32();
        float[] xs = arrange(x, n, cols, stride, w.inputScaleShared());
        PackedRowKernel kernel = w.kernel();
        if (n == 1) {
            Parallel.forRange(rows, GEMV_MIN_ROWS, (start, end) -> {
                // Pairs rows half a chunk apart, not adjacent ones: short rows (1 KiB at 2048 int4 columns) share a
                // 4 KiB page, and rows in different pages ran 28% faster over the 1B model's int4 matrices (single
                // thread, CPU time), apparently because the prefetcher follows one stream per page.
                float[] two = new float[32];
                int half = (end - start) / 2, r = start;
                for (; r < start + half; r++) {
                    kernel.dot2(r, r + half, xs, two);
                    y[r] = two[0];
                    y[r + half] = two[1];
                }
                r += half;
                if (r < end) y[r] = kernel.dot1(r, xs, 0);
            });
            return;
        }
        RowDots.gemm(kernel, rows, w.codes().byteSize() / rows, xs, stride, y, n);
    }

    private static float[] arrange(float[] x, int n, int cols, int stride, float[] inputScale) {
        float[] out = new float[n * stride];
        for (int t = 0; t < n; t++) {
            if (inputScale == null) {
                System.arraycopy(x, t * cols, out, t * stride, cols);
            } else {
                for (int c = 0; c < cols; c++) out[t * stride + c] = x[t * cols + c] * inputScale[c];
            }
        }
        return out;
    }
}
