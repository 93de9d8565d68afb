package dev.bitcap.attention;

import java.util.List;

/**
 * The attention step of a layer, when something other than plain dense attention computes it (block-sparse
 * attention, or a pass that also records what a gate learns from). The engine calls {@link #prepare} with the
 * projected Q and K before RoPE, then appends the rotated keys and values to each run's cache, then calls
 * {@link #attend}; layers are called in order, one pass at a time.
 */
public interface LayerAttention {
    /**
     * Sees Q ({@code rows x heads*headDim}) and K ({@code rows x kvHeads*headDim}) of the pass before RoPE; the
     * arrays are rotated in place afterwards, so keep copies of what is needed later.
     */
    void prepare(int layer, List<TokenRun> runs, float[] q, float[] k);

    /** Writes the attention output of every row (before the output projection) into {@code out}; caches hold the pass. */
    void attend(int layer, List<TokenRun> runs, float[] q, float[] out);
}
