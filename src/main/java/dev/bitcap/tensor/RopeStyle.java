package dev.bitcap.tensor;

/** Which elements of a head RoPE rotates together. */
public enum RopeStyle {
    /** Pairs (2j, 2j+1), as llama2.c and GGUF's llama tensors store Q and K. */
    ADJACENT_PAIRS,
    /** Pairs (j, j + headDim/2), as Hugging Face's rotate_half. */
    ROTATE_HALF
}
