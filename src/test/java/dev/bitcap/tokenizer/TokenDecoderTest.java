package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Hugging Face decoder steps on token lists. */
class TokenDecoderTest {
    @Test
    void byteFallbackReplacesEachByteOfAnInvalidRun() {
        TokenDecoder d = new TokenDecoder.ByteFallback();
        assertEquals(List.of("東", "x"), d.decodeChain(List.of("<0xE6>", "<0x9D>", "<0xB1>", "x")));
        assertEquals(List.of("\uFFFD", "\uFFFD", "x"), d.decodeChain(List.of("<0xE6>", "<0x9D>", "x")));
        assertEquals(List.of("<0xZZ>", "<0x4>"), d.decodeChain(List.of("<0xZZ>", "<0x4>")));
    }

    @Test
    void llamaStyleChain() {
        TokenDecoder chain = new TokenDecoder.Sequence(List.of(
                new TokenDecoder.Replace(java.util.regex.Pattern.compile("▁", java.util.regex.Pattern.LITERAL), " "),
                new TokenDecoder.ByteFallback(), new TokenDecoder.Fuse(), new TokenDecoder.Strip(' ', 1, 0)));
        assertEquals("Hello 東", chain.decode(List.of("▁Hello", "▁", "<0xE6>", "<0x9D>", "<0xB1>")));
        assertEquals(" x", chain.decode(List.of("▁▁x")));
    }

    @Test
    void metaspaceDropsEveryReplacementInTheFirstToken() {
        TokenDecoder d = new TokenDecoder.Metaspace('▁', true);
        assertEquals("Hey friend", d.decode(List.of("▁Hey", "▁friend")));
        assertEquals("ab c", d.decode(List.of("▁a▁b", "▁c")));
        assertEquals(" Hey", new TokenDecoder.Metaspace('▁', false).decode(List.of("▁Hey")));
    }

    @Test
    void byteLevelKeepsPlainAddedTokens() {
        TokenDecoder d = new TokenDecoder.ByteLevel();
        assertEquals("<|im_end|> 東", d.decode(List.of("<|im_end|>", "Ġ", "æĿ±")));
        assertEquals("東京", d.decode(List.of("東京"))); // not alphabet characters: taken as text
        assertEquals("\uFFFD", d.decode(List.of("æ")));
    }
}
