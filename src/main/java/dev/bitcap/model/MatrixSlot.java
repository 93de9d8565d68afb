package dev.bitcap.model;

/**
 * Where a weight matrix sits in a model: its role, its layer (-1 for the head) and its expert (-1 outside MoE
 * experts). Quantization and calibration address matrices by slot, whatever the file format calls them.
 */
public record MatrixSlot(WeightRole role, int layer, int expert) {
    /** The Hugging Face name of the matrix in a model of this family, e.g. {@code model.layers.3.mlp.down_proj.weight}. */
    public String hfName(Family family) {
        return new HfWeightLayout(family).describe(role, layer, expert);
    }
}
