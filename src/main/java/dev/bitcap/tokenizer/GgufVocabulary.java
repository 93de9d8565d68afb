package dev.bitcap.tokenizer;

import java.util.List;

/**
 * What a GGUF file's {@code tokenizer.ggml.*} keys hold. model: "llama" (SentencePiece BPE by scores) or "gpt2"
 * (byte-level BPE with merges); pre: {@code tokenizer.ggml.pre} (e.g. "llama-bpe", "qwen2", "gpt2", "default", or
 * null). scores, tokenTypes and merges may be null when the file has no such key; ids are -1 when absent.
 */
public record GgufVocabulary(String model, String pre, List<String> tokens, float[] scores, int[] tokenTypes,
                             List<String> merges, int bosId, int eosId, int unkId, boolean addBos,
                             boolean addSpacePrefix) {

    /** GGUF token type values ({@code tokenizer.ggml.token_type}). */
    public static final int TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4,
            TYPE_UNUSED = 5, TYPE_BYTE = 6;
}
