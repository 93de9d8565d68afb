package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Pre-tokenizers piece by piece. Regex expectations were produced by Python's regex module (the engine GPT-2's
 * and tiktoken's reference code use) on the same patterns; split behaviors follow the examples in the Hugging
 * Face documentation of SplitDelimiterBehavior.
 */
class PreTokenizerTest {
    private static List<String> split(PreTokenizer pre, String text, boolean atStart) {
        List<PreTokenizer.Piece> out = new ArrayList<>();
        pre.split(new PreTokenizer.Piece(text, atStart), out);
        return out.stream().map(PreTokenizer.Piece::text).toList();
    }

    private static List<String> regex(String pattern, String text) {
        return split(new PreTokenizer.Split(SplitPatterns.compile(pattern, "test"), PreTokenizer.Behavior.ISOLATED, false),
                text, true);
    }

    @Test
    void splitBehaviors() {
        Pattern dash = Pattern.compile(Pattern.quote("-"));
        String text = "the-final--countdown";
        assertEquals(List.of("the", "final", "countdown"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.REMOVED, false), text, true));
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.ISOLATED, false), text, true));
        assertEquals(List.of("the-", "final-", "-", "countdown"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.MERGED_WITH_PREVIOUS, false), text, true));
        assertEquals(List.of("the", "-final", "-", "-countdown"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.MERGED_WITH_NEXT, false), text, true));
        assertEquals(List.of("the", "-", "final", "--", "countdown"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.CONTIGUOUS, false), text, true));
        assertEquals(List.of("-", "-", "-"),
                split(new PreTokenizer.Split(dash, PreTokenizer.Behavior.REMOVED, true), text, true));
    }

    @Test
    void gpt2Regex() {
        assertEquals(List.of("I", "'", "M", " here"), regex(SplitPatterns.GPT2, "I'M here"));
        assertEquals(List.of("x", "\u3000", "y"), regex(SplitPatterns.GPT2, "x\u3000y"));
        assertEquals(List.of("x", "\u00a0", " y"), regex(SplitPatterns.GPT2, "x\u00a0 y"));
        assertEquals(List.of("12345"), regex(SplitPatterns.GPT2, "12345"));
        assertEquals(List.of("hi", "!!", "\n\n", "\n", "there"), regex(SplitPatterns.GPT2, "hi!!\n\n\nthere"));
        assertEquals(List.of("  \n ", " x"), regex(SplitPatterns.GPT2, "  \n  x"));
        assertEquals(List.of("tab", "\t", "\t", "end", "\t"), regex(SplitPatterns.GPT2, "tab\t\tend\t"));
        assertEquals(List.of("\u00e9", "\u0301"), regex(SplitPatterns.GPT2, "\u00e9\u0301"));
        assertEquals(List.of("東京", " tower", " 🚀"), regex(SplitPatterns.GPT2, "東京 tower 🚀"));
    }

    @Test
    void llama3Regex() {
        assertEquals(List.of("I", "'M", " here"), regex(SplitPatterns.LLAMA3, "I'M here"));
        assertEquals(List.of("don", "'T"), regex(SplitPatterns.LLAMA3, "don'T"));
        assertEquals(List.of("x", "\u3000y"), regex(SplitPatterns.LLAMA3, "x\u3000y"));
        assertEquals(List.of("123", "45"), regex(SplitPatterns.LLAMA3, "12345"));
        assertEquals(List.of("abc", "123", "def"), regex(SplitPatterns.LLAMA3, "abc123def"));
        assertEquals(List.of("hi", "!!\n\n\n", "there"), regex(SplitPatterns.LLAMA3, "hi!!\n\n\nthere"));
        assertEquals(List.of("  \n", " ", " x"), regex(SplitPatterns.LLAMA3, "  \n  x"));
        assertEquals(List.of("tab", "\t", "\tend", "\t"), regex(SplitPatterns.LLAMA3, "tab\t\tend\t"));
    }

    @Test
    void qwen2RegexSplitsEveryDigit() {
        assertEquals(List.of("1", "2", "3", "4", "5"), regex(SplitPatterns.QWEN2, "12345"));
        assertEquals(List.of("abc", "1", "2", "3", "def"), regex(SplitPatterns.QWEN2, "abc123def"));
        assertEquals(List.of("I", "'M", " here"), regex(SplitPatterns.QWEN2, "I'M here"));
    }

    @Test
    void byteLevel() {
        assertEquals(List.of("ĠHello", "Ġworld"), split(new PreTokenizer.ByteLevel(true, true), "Hello world", true));
        assertEquals(List.of("Hello", "Ġworld"), split(new PreTokenizer.ByteLevel(false, true), "Hello world", true));
        assertEquals(List.of("HelloĠworld"), split(new PreTokenizer.ByteLevel(false, false), "Hello world", true));
        assertEquals(List.of("æĿ±"), split(new PreTokenizer.ByteLevel(false, false), "東", true));
        assertEquals(List.of("ĊĠ"), split(new PreTokenizer.ByteLevel(false, false), "\n ", true));
    }

    @Test
    void metaspace() {
        PreTokenizer always = new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.ALWAYS, true);
        PreTokenizer first = new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.FIRST, true);
        PreTokenizer never = new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.NEVER, false);
        assertEquals(List.of("▁Hey", "▁friend"), split(always, "Hey friend", false));
        assertEquals(List.of("▁Hey", "▁friend"), split(always, " Hey friend", false)); // no second ▁ in front
        assertEquals(List.of("▁Hey", "▁friend"), split(first, "Hey friend", true));
        assertEquals(List.of("Hey", "▁friend"), split(first, "Hey friend", false));
        assertEquals(List.of("Hey▁friend"), split(never, "Hey friend", true));
        assertEquals(List.of("▁", "▁x"), split(always, "  x", true)); // already starts with ▁
    }

    @Test
    void digitsAndPunctuation() {
        assertEquals(List.of("abc", "1", "2", "3", "d"), split(new PreTokenizer.Digits(true), "abc123d", true));
        assertEquals(List.of("abc", "123", "d", "٣"), split(new PreTokenizer.Digits(false), "abc123d٣", true));
        assertEquals(List.of("Hey", "!", " you", "?", "?"),
                split(new PreTokenizer.Punctuation(PreTokenizer.Behavior.ISOLATED), "Hey! you??", true));
        // U+00A0 is White_Space, as Rust's char::is_whitespace says
        assertEquals(List.of("a", "b", "c"), split(new PreTokenizer.WhitespaceSplit(), " a \t b\u00a0c ", true));
    }

    @Test
    void sequenceKeepsTextStartOnlyForTheFirstPiece() {
        PreTokenizer seq = new PreTokenizer.Sequence(List.of(
                new PreTokenizer.WhitespaceSplit(),
                new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.FIRST, false)));
        assertEquals(List.of("▁one", "two", "three"), split(seq, "one two three", true));
        assertEquals(List.of("one", "two"), split(seq, "one two", false));
    }
}
