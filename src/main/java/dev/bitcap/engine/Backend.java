package dev.bitcap.engine;

import java.util.List;

/**
 * Runs a model's forward pass on one kind of hardware. The model is a description (config + weights); the
 * backend owns how each block is computed, so model families never ask which backend they run on.
 */
public interface Backend extends AutoCloseable {
    String name();

    /** A new empty sequence that can hold {@code capacity} positions. */
    Sequence newSequence(int capacity);

    /**
     * One forward pass over several sequences together: sequence {@code i} receives {@code tokens[i]} at its next
     * positions, its KV cache grows by that many, and the logits come back as rows of {@code vocab} floats —
     * for every token of every sequence if {@code allLogits}, else for the last token of each sequence.
     */
    float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits);

    @Override
    void close();
}
