package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.testing.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The tokenizer.json fixtures against the ids that Hugging Face tokenizers produced for them. */
class HuggingFaceFixtureTest {
    private static final String DIR = "hf-fixtures/tokenizers/";

    record Sample(String text, int[] ids) {}

    static List<Sample> samples(String kind) throws Exception {
        JsonNode root = new ObjectMapper().readTree(Files.readAllBytes(SharedData.require(DIR + "tokenizer-reference.json")));
        List<Sample> out = new ArrayList<>();
        for (JsonNode s : root.path(kind)) {
            int[] ids = new int[s.path("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = s.path("ids").get(i).asInt();
            out.add(new Sample(s.path("text").asText(), ids));
        }
        assertTrue(out.size() >= 5, "reference has samples for " + kind);
        return out;
    }

    static Tokenizer byteLevel() {
        return Tokenizers.fromHuggingFace(SharedData.require(DIR + "bytelevel-tokenizer.json"), null);
    }

    static Tokenizer metaspace() {
        return Tokenizers.fromHuggingFace(SharedData.require(DIR + "metaspace-tokenizer.json"), null);
    }

    @Test
    void byteLevelIdsMatchReference() throws Exception {
        Tokenizer tokenizer = byteLevel();
        for (Sample s : samples("bytelevel")) {
            // the ByteLevel post-processor adds no tokens, so both modes give the reference ids
            assertArrayEquals(s.ids(), tokenizer.encode(s.text(), true), s.text());
            assertArrayEquals(s.ids(), tokenizer.encode(s.text(), false), s.text());
            assertEquals(s.text(), tokenizer.decode(s.ids(), false), "lossless round trip");
            assertEquals(s.text(), tokenizer.decode(s.ids(), true), "no specials to skip");
        }
    }

    @Test
    void metaspaceIdsMatchReference() throws Exception {
        Tokenizer tokenizer = metaspace();
        for (Sample s : samples("metaspace")) {
            assertArrayEquals(s.ids(), tokenizer.encode(s.text(), true), s.text());
            assertArrayEquals(s.ids(), tokenizer.encode(s.text(), false), s.text());
            // byte-fallback tokens are special added tokens in this file, so only decode(…, false) keeps them
            assertEquals(s.text(), tokenizer.decode(s.ids(), false), "lossless round trip");
        }
    }

    @Test
    void vocabularyFacts() {
        Tokenizer b = byteLevel();
        assertEquals(512, b.vocabSize());
        assertEquals(-1, b.bosId());
        assertEquals(0, b.eosId()); // <|endoftext|>
        assertEquals(Set.of(0, 2), b.stopIds()); // <|endoftext|>, <|im_end|>
        assertEquals(2, b.idOf("<|im_end|>").orElseThrow());
        assertEquals("<|im_start|>", b.tokenText(1));

        Tokenizer m = metaspace();
        assertEquals(512, m.vocabSize());
        assertEquals(1, m.bosId());
        assertEquals(2, m.eosId());
        assertEquals(Set.of(2), m.stopIds());
        assertEquals(233, m.idOf("<0xE6>").orElseThrow());
    }

    @Test
    void specialTokensInTextAreSingleTokens() {
        Tokenizer b = byteLevel();
        int[] ids = b.encode("<|im_start|>user\nHi<|im_end|>", false);
        assertEquals(1, ids[0]);
        assertEquals(2, ids[ids.length - 1]);
        assertEquals("<|im_start|>user\nHi<|im_end|>", b.decode(ids, false));
        assertEquals("user\nHi", b.decode(ids, true));
        // the text between specials is encoded as if alone
        int[] middle = java.util.Arrays.copyOfRange(ids, 1, ids.length - 1);
        assertArrayEquals(b.encode("user\nHi", false), middle);
    }

    @Test
    void metaspacePrependsAfterEverySpecialToken() {
        // the Prepend normalizer runs on each piece of text between added tokens
        Tokenizer m = metaspace();
        int[] ids = m.encode("a</s>a", false);
        int[] a = m.encode("a", false);
        assertArrayEquals(concat(a, new int[] {2}, a), ids);
        assertEquals(" a</s> a".substring(1), m.decode(ids, false));
    }

    @Test
    void invalidUtf8DecodesToReplacement() {
        Tokenizer m = metaspace();
        int e6 = m.idOf("<0xE6>").orElseThrow();
        assertEquals("\uFFFD", m.decode(new int[] {e6}, false));
        int[] tokyo = m.encode("東", false);
        assertEquals("東", m.decode(tokyo, false));
    }

    @Test
    void encodesTinyShakespeareQuickly() throws Exception {
        Tokenizer b = byteLevel();
        String text = Files.readString(SharedData.require("text/tinyshakespeare.txt"));
        long start = System.nanoTime();
        int[] ids = b.encode(text, false);
        long ms = (System.nanoTime() - start) / 1_000_000;
        System.out.printf("byte-level fixture: %d chars -> %d tokens in %d ms%n", text.length(), ids.length, ms);
        assertEquals(text, b.decode(ids, false));
        Tokenizer m = metaspace();
        start = System.nanoTime();
        int[] mids = m.encode(text, false);
        ms = (System.nanoTime() - start) / 1_000_000;
        System.out.printf("metaspace fixture: %d chars -> %d tokens in %d ms%n", text.length(), mids.length, ms);
        assertEquals(text, m.decode(mids, false));
    }

    static int[] concat(int[]... parts) {
        IntList out = new IntList();
        for (int[] p : parts) out.addAll(p);
        return out.toArray();
    }

    static Path fixture(String name) {
        return SharedData.require(DIR + name);
    }
}
