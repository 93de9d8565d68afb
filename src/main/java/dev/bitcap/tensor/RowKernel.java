package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Dot products of one stored weight row with activation rows, for one storage type. The weight row starts at
 * byte {@code rowOff} of {@code w}; activation row t starts at {@code x[xOff + t*cols]}. Summation order
 * depends only on {@code cols}, never on where the row lies in memory or how many rows are computed together,
 * so equal weights give equal results in decode and prefill alike. Each storage type has its own class rather
 * than one loop with a load hook: a shared loop would see several receivers, stop inlining and box its vectors.
 */
sealed interface RowKernel permits F32Rows, F16Rows, Bf16Rows, Q8Rows, Q4Rows {
    /**
     * The activations in the order this kernel reads them ({@code n} rows of {@code cols}); made once per matmul.
     * Most kernels read them as they are.
     */
    default float[] arrange(float[] x, int n, int cols) {
        return x;
    }

    float dot1(MemorySegment w, long rowOff, float[] x, int xOff, int cols);

    /** The row against four activation rows at once, converting each weight chunk once. */
    void dot4(MemorySegment w, long rowOff, float[] x, int xOff, int cols, float[] out);

    /**
     * Four consecutive weight rows (the first at {@code rowOff}, {@code rowBytes} apart) against one activation row
     * at {@code x[0]}: a GEMV reads each activation chunk once for four rows. Each row sums in dot1's order.
     */
    void rows4(MemorySegment w, long rowOff, long rowBytes, float[] x, int cols, float[] out);

    static RowKernel of(DType dtype) {
        return switch (dtype) {
            case F32 -> F32Rows.INSTANCE;
            case F16 -> F16Rows.INSTANCE;
            case BF16 -> Bf16Rows.INSTANCE;
            case Q8_0 -> Q8Rows.INSTANCE;
            case Q4_0 -> Q4Rows.INSTANCE;
            default -> throw new IllegalArgumentException("no matrix kernel for " + dtype + " weights");
        };
    }
}
