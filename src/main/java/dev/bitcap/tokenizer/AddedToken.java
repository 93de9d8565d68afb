package dev.bitcap.tokenizer;

/**
 * A token matched in the text before the model runs (an entry of tokenizer.json's {@code added_tokens}, a GGUF
 * CONTROL or USER_DEFINED token). special: skipped by {@code decode(ids, true)}; lstrip/rstrip: the match takes
 * the whitespace on its left/right with it; singleWord: matches only between non-word characters; normalized:
 * matched in the normalized text instead of the raw text.
 */
record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip, boolean singleWord,
                  boolean normalized) {

    static AddedToken special(int id, String content) {
        return new AddedToken(id, content, true, false, false, false, false);
    }
}
