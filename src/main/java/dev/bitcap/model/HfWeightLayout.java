package dev.bitcap.model;

import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.Tensor;

/** Hugging Face tensor names (also what llama2.c checkpoints are exposed as). */
public final class HfWeightLayout implements WeightLayout {
    private final Family family;

    public HfWeightLayout(Family family) {
        this.family = family;
    }

    @Override
    public Tensor find(TensorSource source, WeightRole role, int layer, int expert) {
        String name = describe(role, layer, expert);
        return source.contains(name) ? source.tensor(name) : null;
    }

    @Override
    public String describe(WeightRole role, int l, int e) {
        String p = "model.layers." + l + ".";
        boolean mixtral = family.moeStyle() == Family.MoeStyle.MIXTRAL;
        String ex = mixtral ? p + "block_sparse_moe.experts." + e + "." : p + "mlp.experts." + e + ".";
        return switch (role) {
            case EMBED -> "model.embed_tokens.weight";
            case ATTN_NORM -> p + "input_layernorm.weight";
            case Q -> p + "self_attn.q_proj.weight";
            case K -> p + "self_attn.k_proj.weight";
            case V -> p + "self_attn.v_proj.weight";
            case O -> p + "self_attn.o_proj.weight";
            case Q_BIAS -> p + "self_attn.q_proj.bias";
            case K_BIAS -> p + "self_attn.k_proj.bias";
            case V_BIAS -> p + "self_attn.v_proj.bias";
            case Q_NORM -> p + "self_attn.q_norm.weight";
            case K_NORM -> p + "self_attn.k_norm.weight";
            case MLP_NORM -> p + "post_attention_layernorm.weight";
            case GATE -> p + "mlp.gate_proj.weight";
            case UP -> p + "mlp.up_proj.weight";
            case DOWN -> p + "mlp.down_proj.weight";
            case ROUTER -> mixtral ? p + "block_sparse_moe.gate.weight" : p + "mlp.gate.weight";
            case EXPERT_GATE -> ex + (mixtral ? "w1.weight" : "gate_proj.weight");
            case EXPERT_UP -> ex + (mixtral ? "w3.weight" : "up_proj.weight");
            case EXPERT_DOWN -> ex + (mixtral ? "w2.weight" : "down_proj.weight");
            case SHARED_GATE -> p + "mlp.shared_expert.gate_proj.weight";
            case SHARED_UP -> p + "mlp.shared_expert.up_proj.weight";
            case SHARED_DOWN -> p + "mlp.shared_expert.down_proj.weight";
            case SHARED_EXPERT_GATE -> p + "mlp.shared_expert_gate.weight";
            case FINAL_NORM -> "model.norm.weight";
            case LM_HEAD -> "lm_head.weight";
        };
    }
}
