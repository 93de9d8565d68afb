package dev.bitcap.model;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.tensor.RopeStyle;

/**
 * A Hugging Face {@code config.json} for a {@link ModelConfig}, so that a model read from GGUF or llama2.c can be
 * written as a folder. What transformers has no field for is written as {@code bitcap_*} fields that
 * {@link HfConfigParser} reads back: the RoPE pairing of checkpoints whose Q/K rows are in adjacent-pair order,
 * and per-frequency RoPE factors.
 */
public final class HfConfigWriter {
    private HfConfigWriter() {}

    public static ObjectNode toJson(ModelConfig c) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("model_type", c.family().hfName());
        n.put("hidden_size", c.hiddenSize());
        n.put("num_hidden_layers", c.layers());
        n.put("num_attention_heads", c.heads());
        n.put("num_key_value_heads", c.kvHeads());
        n.put("head_dim", c.headDim());
        n.put("vocab_size", c.vocabSize());
        n.put("max_position_embeddings", c.maxContext());
        n.put("rms_norm_eps", (double) c.rmsEps());
        n.put("rope_theta", c.ropeTheta());
        n.put("tie_word_embeddings", c.tiedEmbeddings());
        n.put("attention_bias", c.attentionBias());
        if (c.intermediateSize() > 0) n.put("intermediate_size", c.intermediateSize());
        if (c.bosId() >= 0) n.put("bos_token_id", c.bosId());
        if (c.eosId() >= 0) n.put("eos_token_id", c.eosId());
        switch (c.ropeScaling().type()) {
            case NONE -> { }
            case LLAMA3 -> n.putObject("rope_scaling").put("rope_type", "llama3").put("factor", c.ropeScaling().factor())
                    .put("low_freq_factor", c.ropeScaling().lowFreqFactor()).put("high_freq_factor", c.ropeScaling().highFreqFactor())
                    .put("original_max_position_embeddings", c.ropeScaling().originalContext());
            case FACTORS -> {
                var arr = n.putArray(HfConfigParser.ROPE_FACTORS_FIELD);
                for (float f : c.ropeScaling().frequencyFactors()) arr.add(f);
            }
        }
        if (c.ropeStyle() == RopeStyle.ADJACENT_PAIRS) n.put(HfConfigParser.ROPE_STYLE_FIELD, "adjacent_pairs");
        if (c.isMoe()) {
            n.put("num_local_experts", c.experts());
            n.put("num_experts", c.experts());
            n.put("num_experts_per_tok", c.expertsPerToken());
            if (c.family().moeStyle() == Family.MoeStyle.MIXTRAL) {
                n.put("intermediate_size", c.moeIntermediate());
            } else {
                n.put("moe_intermediate_size", c.moeIntermediate());
                if (c.sharedExpertIntermediate() > 0) n.put("shared_expert_intermediate_size", c.sharedExpertIntermediate());
                n.put("norm_topk_prob", c.normTopK());
                n.put("decoder_sparse_step", c.sparseStep());
                var dense = n.putArray("mlp_only_layers");
                c.denseLayers().stream().sorted().forEach(dense::add);
            }
        }
        return n;
    }
}
