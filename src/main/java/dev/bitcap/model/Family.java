package dev.bitcap.model;

import dev.bitcap.BitcapException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A model family as a short description over the shared blocks (attention, dense MLP, MoE block with
 * router). Adding a family means adding one constant here; the engine never branches on the family itself,
 * only on these properties.
 */
public enum Family {
    LLAMA("llama", false, false, MoeStyle.NONE),
    MISTRAL("mistral", false, false, MoeStyle.NONE),
    QWEN2("qwen2", true, false, MoeStyle.NONE),
    QWEN3("qwen3", false, true, MoeStyle.NONE),
    MIXTRAL("mixtral", false, false, MoeStyle.MIXTRAL),
    QWEN2_MOE("qwen2_moe", true, false, MoeStyle.QWEN),
    QWEN3_MOE("qwen3_moe", false, true, MoeStyle.QWEN);

    /** How a family's MoE block is named and routed. */
    public enum MoeStyle {
        /** Dense MLP in every layer. */
        NONE,
        /** Mixtral: block_sparse_moe.{gate, experts.E.w1/w2/w3}; softmax, top-k, always renormalised. */
        MIXTRAL,
        /** Qwen MoE: mlp.{gate, experts.E.*_proj}, optional shared expert with a sigmoid gate; renormalised if norm_topk_prob. */
        QWEN
    }

    private final String hfName;
    private final boolean qkvBias;
    private final boolean qkNorm;
    private final MoeStyle moeStyle;

    Family(String hfName, boolean qkvBias, boolean qkNorm, MoeStyle moeStyle) {
        this.hfName = hfName;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
        this.moeStyle = moeStyle;
    }

    /** The {@code model_type} of Hugging Face's config.json. */
    public String hfName() {
        return hfName;
    }

    /** Q, K and V projections carry a bias (Qwen2 family). */
    public boolean qkvBias() {
        return qkvBias;
    }

    /** Per-head RMSNorm on Q and K before RoPE (Qwen3 family). */
    public boolean qkNorm() {
        return qkNorm;
    }

    public MoeStyle moeStyle() {
        return moeStyle;
    }

    public boolean isMoe() {
        return moeStyle != MoeStyle.NONE;
    }

    private static final Map<String, Family> BY_NAME =
            Arrays.stream(values()).collect(Collectors.toMap(Family::hfName, Function.identity()));

    public static List<String> names() {
        return Arrays.stream(values()).map(Family::hfName).toList();
    }

    /** The family for a config's model_type; an unsupported architecture is a user error listing the supported ones. */
    public static Family fromHfName(String modelType) {
        Family f = BY_NAME.get(modelType);
        if (f == null) {
            throw new BitcapException("unsupported architecture '" + modelType + "' (supported: " + String.join(", ", names()) + ")");
        }
        return f;
    }
}
