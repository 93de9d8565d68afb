package dev.bitcap.model;

import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.Tensor;

/** How one file format names the tensors of each {@link WeightRole}. */
public interface WeightLayout {
    /** The tensor for a role, or null when the file has none (optional tensors such as biases). */
    Tensor find(TensorSource source, WeightRole role, int layer, int expert);

    /** The name used in error messages. */
    String describe(WeightRole role, int layer, int expert);
}
