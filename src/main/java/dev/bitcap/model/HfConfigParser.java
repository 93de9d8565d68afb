package dev.bitcap.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.BitcapException;
import dev.bitcap.tensor.RopeStyle;
import java.util.HashSet;
import java.util.Set;

/**
 * Reads a Hugging Face {@code config.json} into a {@link ModelConfig}. Accepts the field names of both
 * transformers 4 ({@code rope_theta}, {@code rope_scaling}, {@code num_experts}) and transformers 5
 * ({@code rope_parameters}, {@code num_local_experts}).
 */
public final class HfConfigParser {
    private final JsonNode root;
    private final String source;

    private HfConfigParser(JsonNode root, String source) {
        this.root = root;
        this.source = source;
    }

    /** bitcap's own fields, for what transformers' configs cannot say (see {@link HfConfigWriter}). */
    static final String ROPE_STYLE_FIELD = "bitcap_rope_style";
    static final String ROPE_FACTORS_FIELD = "bitcap_rope_factors";

    public static ModelConfig parse(JsonNode root, String source) {
        return new HfConfigParser(root, source).parse();
    }

    private ModelConfig parse() {
        if (!root.isObject()) throw new BitcapException(source + ": not a JSON object");
        Family family = Family.fromHfName(requireText("model_type"));
        int hidden = requireInt("hidden_size");
        int heads = requireInt("num_attention_heads");
        int kvHeads = optInt("num_key_value_heads", heads);
        int headDim = optInt("head_dim", 0);
        if (headDim == 0) {
            if (hidden % heads != 0) throw new BitcapException(source + ": hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);
            headDim = hidden / heads;
        }
        if (heads % kvHeads != 0) {
            throw new BitcapException(source + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        JsonNode ropeParams = root.path("rope_parameters");
        double theta = ropeParams.path("rope_theta").isNumber() ? ropeParams.path("rope_theta").asDouble()
                : root.path("rope_theta").asDouble(10000.0);
        RopeScaling scaling = parseRopeScaling(ropeParams.isObject() && ropeParams.has("rope_type") ? ropeParams : root.path("rope_scaling"));
        if (root.path(ROPE_FACTORS_FIELD).isArray()) {
            JsonNode arr = root.path(ROPE_FACTORS_FIELD);
            float[] factors = new float[arr.size()];
            for (int i = 0; i < factors.length; i++) factors[i] = (float) arr.get(i).asDouble();
            try {
                scaling = RopeScaling.factors(factors);
            } catch (IllegalArgumentException e) {
                throw new BitcapException(source + ": " + ROPE_FACTORS_FIELD + ": " + e.getMessage());
            }
        }
        RopeStyle ropeStyle = switch (root.path(ROPE_STYLE_FIELD).asText("rotate_half")) {
            case "rotate_half" -> RopeStyle.ROTATE_HALF;
            case "adjacent_pairs" -> RopeStyle.ADJACENT_PAIRS;
            default -> throw new BitcapException(source + ": " + ROPE_STYLE_FIELD + " must be rotate_half or adjacent_pairs");
        };

        int experts = 0, topK = 0, moeInter = 0, sharedInter = 0, sparseStep = 1;
        boolean normTopK = false;
        Set<Integer> denseLayers = new HashSet<>();
        int intermediate = optInt("intermediate_size", 0);
        if (family.isMoe()) {
            experts = optInt("num_local_experts", optInt("num_experts", 0));
            if (experts <= 0) throw new BitcapException(source + ": MoE architecture " + family.hfName() + " needs num_local_experts or num_experts");
            topK = requireInt("num_experts_per_tok");
            if (topK <= 0 || topK > experts) throw new BitcapException(source + ": num_experts_per_tok " + topK + " must be in 1.." + experts);
            if (family.moeStyle() == Family.MoeStyle.MIXTRAL) {
                moeInter = requireInt("intermediate_size");
                normTopK = true;
            } else {
                moeInter = requireInt("moe_intermediate_size");
                sharedInter = optInt("shared_expert_intermediate_size", 0);
                normTopK = root.path("norm_topk_prob").asBoolean(false);
                sparseStep = optInt("decoder_sparse_step", 1);
                for (JsonNode n : root.path("mlp_only_layers")) denseLayers.add(n.asInt());
            }
        }
        if (intermediate == 0 && !family.isMoe()) intermediate = requireInt("intermediate_size");
        int layers = requireInt("num_hidden_layers");
        int vocab = requireInt("vocab_size");
        int ctx = optInt("max_position_embeddings", 2048);
        float eps = (float) root.path("rms_norm_eps").asDouble(1e-6);
        boolean tied = root.path("tie_word_embeddings").asBoolean(false);
        boolean attnBias = root.path("attention_bias").asBoolean(false) || root.path("qkv_bias").asBoolean(false);
        for (int v : new int[] {hidden, heads, layers, vocab, ctx}) {
            if (v <= 0) throw new BitcapException(source + ": sizes must be positive (hidden_size, heads, layers, vocab_size, max_position_embeddings)");
        }
        return new ModelConfig(family, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ctx, eps, theta, scaling,
                ropeStyle, tied, attnBias, experts, topK, moeInter, sharedInter, normTopK, sparseStep, denseLayers,
                firstId(root.path("bos_token_id")), firstId(root.path("eos_token_id")));
    }

    private RopeScaling parseRopeScaling(JsonNode node) {
        if (node == null || !node.isObject()) return RopeScaling.NONE;
        String type = node.path("rope_type").asText(node.path("type").asText("default"));
        return switch (type) {
            case "default" -> RopeScaling.NONE;
            case "llama3" -> RopeScaling.llama3(node.path("factor").asDouble(8.0), node.path("low_freq_factor").asDouble(1.0),
                    node.path("high_freq_factor").asDouble(4.0), node.path("original_max_position_embeddings").asInt(8192));
            default -> throw new BitcapException(source + ": unsupported rope scaling type '" + type + "' (supported: default, llama3)");
        };
    }

    private static int firstId(JsonNode n) {
        if (n.isArray()) return n.isEmpty() ? -1 : n.get(0).asInt();
        return n.isNumber() ? n.asInt() : -1;
    }

    private String requireText(String field) {
        JsonNode n = root.get(field);
        if (n == null || !n.isTextual()) throw new BitcapException(source + ": missing required field " + field);
        return n.asText();
    }

    private int requireInt(String field) {
        JsonNode n = root.get(field);
        if (n == null || !n.canConvertToInt()) throw new BitcapException(source + ": missing or non-integer field " + field);
        return n.asInt();
    }

    private int optInt(String field, int dflt) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.canConvertToInt()) throw new BitcapException(source + ": field " + field + " is not an integer");
        return n.asInt();
    }
}
