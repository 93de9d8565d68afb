package dev.bitcap.model.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Model shapes shipped with bitcap as Hugging Face config.json files: real architectures (Llama 3.x,
 * Mixtral, Qwen MoE) for performance work, and tiny ones, {@code tiny-moe} being the built-in default.
 */
public final class SyntheticPresets {
    public static final List<String> NAMES = List.of("tiny-moe", "tiny-llama", "tiny-mixtral", "tiny-qwen2moe",
            "llama-3.2-1b", "llama-3.1-8b", "mixtral-8x7b", "qwen1.5-moe-a2.7b", "qwen3-30b-a3b");

    private SyntheticPresets() {}

    public static ObjectNode config(String name) {
        if (!NAMES.contains(name)) {
            throw new BitcapException("unknown preset '" + name + "' (presets: " + String.join(", ", NAMES) + ")");
        }
        try (InputStream in = SyntheticPresets.class.getResourceAsStream(name + ".json")) {
            return (ObjectNode) new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("preset resource " + name + " unreadable", e);
        }
    }
}
