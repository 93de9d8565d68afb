package dev.bitcap.tokenizer;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/** Which special tokens end a reply: the eos token plus the end-of-turn tokens of the common chat formats. */
final class StopTokens {
    /** End-of-turn / end-of-text tokens of Llama-3, ChatML (Qwen), GPT-2, Gemma, Phi-3, Llama-2/Mistral, gpt-oss. */
    static final Set<String> NAMES = Set.of("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>",
            "<|endoftext|>", "<end_of_turn>", "<eos>", "<|end|>", "</s>", "<|return|>");

    private StopTokens() {}

    /** eosId (when &gt;= 0) and the ids of the named specials among (content, id) pairs. */
    static Set<Integer> find(int eosId, Collection<Map.Entry<String, Integer>> specials) {
        Set<Integer> stops = new LinkedHashSet<>();
        if (eosId >= 0) stops.add(eosId);
        for (Map.Entry<String, Integer> e : specials) if (NAMES.contains(e.getKey())) stops.add(e.getValue());
        return Set.copyOf(stops);
    }
}
