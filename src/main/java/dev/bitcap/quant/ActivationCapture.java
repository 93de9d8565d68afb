package dev.bitcap.quant;

import dev.bitcap.tensor.WeightMatrix;

/**
 * A weight matrix that hands every input it is multiplied with to a sink before multiplying: how calibration
 * sees the activations each linear layer receives when the full-precision model runs on calibration text.
 */
public final class ActivationCapture implements WeightMatrix {
    /** Receives {@code n} input rows of {@code cols} floats; must not keep {@code x}. */
    @FunctionalInterface
    public interface Sink {
        void accept(float[] x, int n, int cols);
    }

    private final WeightMatrix inner;
    private final Sink sink;

    public ActivationCapture(WeightMatrix inner, Sink sink) {
        this.inner = inner;
        this.sink = sink;
    }

    public WeightMatrix inner() {
        return inner;
    }

    @Override
    public long rows() {
        return inner.rows();
    }

    @Override
    public long cols() {
        return inner.cols();
    }

    @Override
    public long byteSize() {
        return inner.byteSize();
    }

    @Override
    public void matmul(float[] x, float[] y, int n) {
        sink.accept(x, n, (int) inner.cols());
        inner.matmul(x, y, n);
    }

    @Override
    public String storage() {
        return inner.storage();
    }
}
