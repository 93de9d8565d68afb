package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The pre-tokenizer regexes of the common byte-level vocabularies, and the translation of tokenizer.json regexes
 * (written for Oniguruma, where \s, \w, \d and (?i) are Unicode-aware) into java.util.regex.
 */
final class SplitPatterns {
    /** GPT-2 (and HF ByteLevel with use_regex). */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    /** Llama-3 (tiktoken cl100k style): numbers in groups of up to three digits. */
    static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Qwen2 / Qwen2.5 / Qwen3: like Llama-3 but every digit on its own. */
    static final String QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final Pattern GPT2_COMPILED = compile(GPT2, "GPT-2 pattern");

    private SplitPatterns() {}

    static Pattern gpt2() {
        return GPT2_COMPILED;
    }

    /**
     * Compiles an Oniguruma-syntax regex from tokenizer.json. UNICODE_CHARACTER_CLASS makes \s, \w, \d and
     * case-insensitive groups Unicode-aware as they are there (e.g. \s matches U+3000 and U+00A0).
     */
    static Pattern compile(String regex, String what) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw new BitcapException(what + ": regex '" + regex + "' is not supported: " + e.getDescription());
        }
    }
}
