package dev.bitcap.model;

import dev.bitcap.tensor.RopeStyle;

/**
 * The shape and hyper-parameters of a decoder-only transformer, dense or MoE, whatever file it came from.
 *
 * @param experts         routed experts per MoE layer (0 for a dense model)
 * @param expertsPerToken top-k of the router
 * @param moeIntermediate hidden width of one routed expert
 * @param sharedExpertIntermediate hidden width of the always-on shared expert (0 when there is none)
 * @param normTopK        renormalise the top-k routing weights to sum to one
 * @param sparseStep      every sparseStep-th layer is MoE (Qwen's decoder_sparse_step); layers in denseLayers are dense
 */
public record ModelConfig(
        Family family,
        int hiddenSize,
        int intermediateSize,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int vocabSize,
        int maxContext,
        float rmsEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        RopeStyle ropeStyle,
        boolean tiedEmbeddings,
        boolean attentionBias,
        int experts,
        int expertsPerToken,
        int moeIntermediate,
        int sharedExpertIntermediate,
        boolean normTopK,
        int sparseStep,
        java.util.Set<Integer> denseLayers,
        int bosId,
        int eosId) {

    public ModelConfig {
        denseLayers = java.util.Set.copyOf(denseLayers);
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public boolean isMoe() {
        return experts > 0;
    }

    /** Whether layer {@code l} has a routed-expert block rather than a dense MLP. */
    public boolean isMoeLayer(int l) {
        return experts > 0 && !denseLayers.contains(l) && (l + 1) % Math.max(1, sparseStep) == 0;
    }

    public boolean hasSharedExpert() {
        return sharedExpertIntermediate > 0;
    }

    /** A copy with another context length (e.g. to limit KV-cache memory). */
    public ModelConfig withMaxContext(int ctx) {
        return new ModelConfig(family, hiddenSize, intermediateSize, layers, heads, kvHeads, headDim, vocabSize, ctx,
                rmsEps, ropeTheta, ropeScaling, ropeStyle, tiedEmbeddings, attentionBias, experts, expertsPerToken,
                moeIntermediate, sharedExpertIntermediate, normTopK, sparseStep, denseLayers, bosId, eosId);
    }

    /** Parameters in all weight matrices and vectors (embedding and head counted separately unless tied). */
    public long parameterCount() {
        return parameters(false);
    }

    /** Parameters one token touches: attention, router, top-k experts, shared expert, embeddings row excluded from neither. */
    public long activeParameterCount() {
        return parameters(true);
    }

    private long parameters(boolean activeOnly) {
        long d = hiddenSize;
        long attn = d * qDim() + 2 * d * kvDim() + (long) qDim() * d + 2 * d;
        if (attentionBias || family.qkvBias()) attn += qDim() + 2L * kvDim();
        if (family.qkNorm()) attn += 2L * headDim;
        long total = 0;
        for (int l = 0; l < layers; l++) {
            total += attn;
            if (isMoeLayer(l)) {
                long expert = 3 * d * moeIntermediate;
                total += d * experts + (activeOnly ? expertsPerToken : experts) * expert;
                if (hasSharedExpert()) total += 3 * d * sharedExpertIntermediate + d;
            } else {
                total += 3 * d * intermediateSize;
            }
        }
        total += d + (long) vocabSize * d;
        if (!tiedEmbeddings) total += (long) vocabSize * d;
        return total;
    }
}
