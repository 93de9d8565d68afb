package dev.bitcap.format;

import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/** The name, element type and shape (outermost dimension first) of a tensor about to be written. */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        Tensor.elementCount(shape); // rejects negative dimensions and overflow early
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return Tensor.elementCount(shape);
    }

    /** Bytes of the tensor's data. */
    public long byteSize() {
        return dtype.byteSize(elementCount());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec other && name.equals(other.name) && dtype == other.dtype
                && Arrays.equals(shape, other.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
