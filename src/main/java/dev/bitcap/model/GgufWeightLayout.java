package dev.bitcap.model;

import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.Tensor;

/**
 * GGUF (llama.cpp) tensor names. Routed experts are stored stacked in one 3-D tensor per projection
 * ({@code ffn_gate_exps} [experts, ff, dim]); an expert is a slice of it, not a copy.
 */
public final class GgufWeightLayout implements WeightLayout {
    @Override
    public Tensor find(TensorSource source, WeightRole role, int layer, int expert) {
        String name = baseName(role, layer);
        if (!source.contains(name)) return null;
        Tensor t = source.tensor(name);
        return switch (role) {
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> {
                Tensor one = t.slice(expert, 1);
                yield one.reshape(t.dim(1), t.dim(2));
            }
            default -> t;
        };
    }

    @Override
    public String describe(WeightRole role, int layer, int expert) {
        String name = baseName(role, layer);
        return switch (role) {
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> name + "[" + expert + "]";
            default -> name;
        };
    }

    private static String baseName(WeightRole role, int l) {
        String p = "blk." + l + ".";
        return switch (role) {
            case EMBED -> "token_embd.weight";
            case ATTN_NORM -> p + "attn_norm.weight";
            case Q -> p + "attn_q.weight";
            case K -> p + "attn_k.weight";
            case V -> p + "attn_v.weight";
            case O -> p + "attn_output.weight";
            case Q_BIAS -> p + "attn_q.bias";
            case K_BIAS -> p + "attn_k.bias";
            case V_BIAS -> p + "attn_v.bias";
            case Q_NORM -> p + "attn_q_norm.weight";
            case K_NORM -> p + "attn_k_norm.weight";
            case MLP_NORM -> p + "ffn_norm.weight";
            case GATE -> p + "ffn_gate.weight";
            case UP -> p + "ffn_up.weight";
            case DOWN -> p + "ffn_down.weight";
            case ROUTER -> p + "ffn_gate_inp.weight";
            case EXPERT_GATE -> p + "ffn_gate_exps.weight";
            case EXPERT_UP -> p + "ffn_up_exps.weight";
            case EXPERT_DOWN -> p + "ffn_down_exps.weight";
            case SHARED_GATE -> p + "ffn_gate_shexp.weight";
            case SHARED_UP -> p + "ffn_up_shexp.weight";
            case SHARED_DOWN -> p + "ffn_down_shexp.weight";
            case SHARED_EXPERT_GATE -> p + "ffn_gate_inp_shexp.weight";
            case FINAL_NORM -> "output_norm.weight";
            case LM_HEAD -> "output.weight";
        };
    }
}
