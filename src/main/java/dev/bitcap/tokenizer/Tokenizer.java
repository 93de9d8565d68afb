package dev.bitcap.tokenizer;

import java.util.OptionalInt;
import java.util.Set;

/**
 * Turns text into token ids and back. Implementations: Hugging Face {@code tokenizer.json} BPE pipelines
 * (byte-level and metaspace/byte-fallback), SentencePiece-style vocabularies (llama2.c, GGUF "llama") and
 * GGUF byte-level vocabularies (GGUF "gpt2"). Built by {@link Tokenizers}; instances are immutable and
 * safe to share between threads (each {@link StreamDecoder} belongs to one sequence).
 */
public interface Tokenizer {

    /** Number of ids: the largest id plus one. */
    int vocabSize();

    /**
     * Token ids for text, exactly as Hugging Face {@code tokenizers} {@code Tokenizer.encode(text,
     * add_special_tokens=addSpecial).ids} would give for tokenizer.json (post-processor/template adds BOS etc.
     * only when addSpecial); for SentencePiece-style vocabularies (llama2.c, GGUF llama) addSpecial prepends BOS
     * when the vocabulary says so. Special/added tokens written in the text are recognised as single tokens.
     */
    int[] encode(String text, boolean addSpecial);

    /**
     * Text for ids; bytes that are not valid UTF-8 become U+FFFD, never an exception. Special tokens are kept as
     * their text unless skipSpecial.
     */
    String decode(int[] ids, boolean skipSpecial);

    /**
     * A decoder for streaming: feed ids one at a time, get the text that is complete so far (holds back incomplete
     * UTF-8 sequences, applies the leading-space rules of the vocabulary at the start of a sequence). Special
     * tokens come out as their text, as in {@code decode(ids, false)}. The first id fed counts as the start of a
     * sequence (a SentencePiece "▁Once" shows as "Once"); to continue a prompt instead, feed the prompt's ids
     * first and ignore their text.
     */
    default StreamDecoder streamDecoder() {
        return new WindowStreamDecoder(this);
    }

    /** Text of a sequence fed one id at a time; see {@link Tokenizer#streamDecoder()}. */
    interface StreamDecoder {
        /** The text that this id completes (often empty while a multi-byte character is incomplete). */
        String next(int id);

        /** Whatever is still held back, with incomplete bytes shown as U+FFFD; the decoder can go on afterwards. */
        String flush();
    }

    /** The raw piece of an id as the vocabulary stores it (for inspect/debug). */
    String tokenText(int id);

    /** Beginning-of-sequence id, or -1 when the vocabulary has none. */
    int bosId();

    /** End-of-sequence id, or -1 when the vocabulary has none. */
    int eosId();

    /** The eos id plus end-of-turn style special tokens (e.g. {@code <|eot_id|>}, {@code <|im_end|>}) present. */
    Set<Integer> stopIds();

    /** The id of a piece, written as {@link #tokenText} gives it or as a special token's text. */
    OptionalInt idOf(String piece);
}
