package dev.bitcap.model;

import dev.bitcap.BitcapException;
import dev.bitcap.format.GgufFile;
import dev.bitcap.tensor.RopeStyle;
import java.util.Set;

/** Reads a GGUF file's {@code general.architecture} and {@code ARCH.*} metadata into a {@link ModelConfig}. */
public final class GgufConfigParser {
    /** llama.cpp's name for per-frequency RoPE divisors (how GGUF carries Llama 3.1's rope_scaling). */
    public static final String ROPE_FACTORS = "rope_freqs.weight";

    private GgufConfigParser() {}

    public static ModelConfig parse(GgufFile gguf, String origin) {
        String arch = gguf.getString("general.architecture");
        boolean hasExperts = gguf.getLong(arch + ".expert_count", 0) > 0;
        Family family = switch (arch) {
            case "llama", "mistral" -> hasExperts ? Family.MIXTRAL : Family.LLAMA;
            case "qwen2" -> Family.QWEN2;
            case "qwen3" -> Family.QWEN3;
            case "qwen2moe" -> Family.QWEN2_MOE;
            case "qwen3moe" -> Family.QWEN3_MOE;
            default -> throw new BitcapException(origin + ": unsupported architecture '" + arch
                    + "' (supported GGUF architectures: llama, mistral, qwen2, qwen3, qwen2moe, qwen3moe)");
        };
        int d = (int) gguf.getLong(arch + ".embedding_length");
        int heads = (int) gguf.getLong(arch + ".attention.head_count");
        int kvHeads = (int) gguf.getLong(arch + ".attention.head_count_kv", heads);
        int headDim = (int) gguf.getLong(arch + ".attention.key_length", heads > 0 ? d / heads : 0);
        int layers = (int) gguf.getLong(arch + ".block_count");
        int ff = (int) gguf.getLong(arch + ".feed_forward_length", 0);
        int ctx = (int) gguf.getLong(arch + ".context_length", 2048);
        float eps = (float) gguf.getDouble(arch + ".attention.layer_norm_rms_epsilon", 1e-5);
        double theta = gguf.getDouble(arch + ".rope.freq_base", 10000.0);
        int vocab = (int) gguf.getLong(arch + ".vocab_size", 0);
        if (vocab == 0) {
            var tokens = gguf.getArray("tokenizer.ggml.tokens");
            vocab = tokens != null ? tokens.size() : (int) gguf.tensor("token_embd.weight").dim(0);
        }
        if (d <= 0 || heads <= 0 || kvHeads <= 0 || layers <= 0 || vocab <= 0 || headDim <= 0 || heads % kvHeads != 0) {
            throw new BitcapException(origin + ": inconsistent sizes in metadata (embedding_length " + d + ", heads " + heads
                    + ", kv heads " + kvHeads + ", layers " + layers + ", vocab " + vocab + ")");
        }
        int experts = (int) gguf.getLong(arch + ".expert_count", 0);
        int topK = (int) gguf.getLong(arch + ".expert_used_count", 0);
        int moeFf = family == Family.MIXTRAL ? ff : (int) gguf.getLong(arch + ".expert_feed_forward_length", 0);
        int sharedFf = (int) gguf.getLong(arch + ".expert_shared_feed_forward_length", 0);
        if (family == Family.QWEN2_MOE && sharedFf == 0 && gguf.contains("blk.0.ffn_gate_shexp.weight")) {
            sharedFf = (int) gguf.tensor("blk.0.ffn_gate_shexp.weight").dim(0);
        }
        boolean normTopK = family != Family.QWEN2_MOE;
        boolean tied = !gguf.contains("output.weight");
        RopeStyle style = family == Family.LLAMA || family == Family.MISTRAL || family == Family.MIXTRAL
                ? RopeStyle.ADJACENT_PAIRS : RopeStyle.ROTATE_HALF;
        RopeScaling scaling = RopeScaling.NONE;
        if (gguf.contains(ROPE_FACTORS)) {
            var t = gguf.tensor(ROPE_FACTORS);
            if (t.elementCount() != headDim / 2) {
                throw new BitcapException(origin + ": " + ROPE_FACTORS + " holds " + t.elementCount() + " factors, the heads need " + headDim / 2);
            }
            try {
                scaling = RopeScaling.factors(t.toFloatArray());
            } catch (IllegalArgumentException e) {
                throw new BitcapException(origin + ": " + ROPE_FACTORS + ": " + e.getMessage());
            }
        }
        return new ModelConfig(family, d, ff, layers, heads, kvHeads, headDim, vocab, ctx, eps, theta, scaling, style,
                tied, gguf.contains("blk.0.attn_q.bias"), experts, topK, moeFf, sharedFf, normTopK, 1, Set.of(),
                (int) gguf.getLong("tokenizer.ggml.bos_token_id", -1), (int) gguf.getLong("tokenizer.ggml.eos_token_id", -1));
    }
}
