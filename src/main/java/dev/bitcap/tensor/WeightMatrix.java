package dev.bitcap.tensor;

/**
 * A weight matrix W [rows = outputs, cols = inputs] as the engine uses it: a dense {@link Tensor} in its stored
 * dtype, or a packed quantized matrix. The engine only multiplies by it; how the weights are stored is the
 * implementation's business.
 */
public interface WeightMatrix {
    long rows();

    long cols();

    /** Bytes the weights occupy (codes, parameters and masks included): what a GEMV must read. */
    long byteSize();

    /** y [n, rows] = x [n, cols] · Wᵀ, multi-threaded; overwrites y. */
    void matmul(float[] x, float[] y, int n);

    /** Short description of the storage, e.g. {@code F16} or {@code int4-asym g128}. */
    String storage();
}
