package dev.bitcap.engine;

import dev.bitcap.tensor.Ops;
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

    /**
     * The same pass as {@code forward(sequences, tokens, false)}, returning instead the greedy next token of each
     * sequence: {@link Ops#argmax} of its last token's logits. A backend that holds the logits elsewhere (a GPU)
     * overrides this to pick there and bring back one int per sequence instead of a row of vocab floats.
     */
    default int[] forwardGreedy(List<Sequence> sequences, List<int[]> tokens) {
        return Ops.argmaxRows(forward(sequences, tokens, false), sequences.size());
    }

    @Override
    void close();
}
