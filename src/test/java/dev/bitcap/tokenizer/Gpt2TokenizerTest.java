package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bitcap.testing.SharedData;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * GPT-2's vocab.json + merges.txt, directly and as a GGUF "gpt2" vocabulary. Expected ids come from OpenAI's
 * original encoder algorithm (Python regex module + rank-ordered merges); "Hello world" = [15496, 995] is the
 * well-known GPT-2 encoding.
 */
class Gpt2TokenizerTest {
    private static Tokenizer shared;

    // loading the 50k vocabulary once keeps the suite fast
    static synchronized Tokenizer gpt2() {
        if (shared == null) {
            shared = Tokenizers.fromGpt2Files(SharedData.require("tokenizers/gpt2-vocab.json"),
                    SharedData.require("tokenizers/gpt2-merges.txt"));
        }
        return shared;
    }

    static final Object[][] SAMPLES = {
        {"Hello world", new int[] {15496, 995}},
        {" Hello", new int[] {18435}},
        {"Hello, world! It's a test.", new int[] {15496, 11, 995, 0, 632, 338, 257, 1332, 13}},
        {"naïve café — déjà vu; 東京 🚀 emoji", new int[] {2616, 38776, 40304, 851, 39073, 73, 24247, 410, 84, 26,
            10545, 251, 109, 12859, 105, 12520, 248, 222, 44805}},
        {"  two  spaces\tand\ttabs\n\nnew lines  ", new int[] {220, 734, 220, 9029, 197, 392, 197, 8658, 82, 198,
            198, 3605, 3951, 220, 220}},
        {"I'm DON'T we'll 1234567 3.14159", new int[] {40, 1101, 23917, 6, 51, 356, 1183, 17031, 2231, 3134, 513,
            13, 1415, 19707}},
        {"👩\u200d💻 ZWJ and e\u0301 combining", new int[] {41840, 102, 447, 235, 8582, 240, 119, 1168, 54, 41, 290,
            304, 136, 223, 19771}},
        {"Ünïcödé ß ſ Ω 東京タワー 서울", new int[] {127, 250, 77, 26884, 66, 9101, 67, 2634, 6184, 253, 25370, 123,
            7377, 102, 10545, 251, 109, 12859, 105, 23376, 25589, 6312, 23821, 226, 250, 168, 248, 116}},
        {"trailing spaces   ", new int[] {9535, 4386, 9029, 220, 220, 220}},
    };

    @Test
    void matchesOpenAiEncoder() {
        Tokenizer t = gpt2();
        for (Object[] sample : SAMPLES) {
            String text = (String) sample[0];
            assertArrayEquals((int[]) sample[1], t.encode(text, false), text);
            assertArrayEquals((int[]) sample[1], t.encode(text, true), "GPT-2 adds no special tokens");
            assertEquals(text, t.decode((int[]) sample[1], false), "round trip of " + text);
        }
    }

    @Test
    void endOfTextIsSpecial() {
        Tokenizer t = gpt2();
        assertArrayEquals(new int[] {50256, 287, 2420}, t.encode("<|endoftext|> in text", false));
        assertEquals(" in text", t.decode(new int[] {50256, 287, 2420}, true));
        assertEquals("<|endoftext|> in text", t.decode(new int[] {50256, 287, 2420}, false));
        assertEquals(50256, t.eosId());
        assertEquals(Set.of(50256), t.stopIds());
        assertEquals(50257, t.vocabSize());
        assertEquals("Ġworld", t.tokenText(995));
    }

    @Test
    void streamDecodingEqualsWholeDecoding() {
        Tokenizer t = gpt2();
        String text = "naïve café — 東京 🚀 emoji 👩\u200d💻!";
        int[] ids = t.encode(text, false);
        Tokenizer.StreamDecoder stream = t.streamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.next(id);
            assertEquals(-1, piece.indexOf('\uFFFD'), "no partial characters are emitted");
            out.append(piece);
        }
        out.append(stream.flush());
        assertEquals(text, out.toString());
    }

    @Test
    void ggufGpt2VocabularyEqualsFiles() throws Exception {
        Tokenizer files = gpt2();
        GgufVocabulary vocab = asGguf(files, "gpt2", -1, false);
        Tokenizer gguf = Tokenizers.fromGguf(vocab);
        String text = Files.readString(SharedData.require("text/wikitext2-test.raw")).substring(0, 50_000);
        assertArrayEquals(files.encode(text, false), gguf.encode(text, false));
        for (Object[] sample : SAMPLES) assertArrayEquals((int[]) sample[1], gguf.encode((String) sample[0], true));
        assertEquals(text, gguf.decode(gguf.encode(text, false), false));
        // add_bos_token prepends BOS only when special tokens are asked for
        Tokenizer withBos = Tokenizers.fromGguf(asGguf(files, "default", 50256, true));
        assertArrayEquals(new int[] {50256, 15496, 995}, withBos.encode("Hello world", true));
        assertArrayEquals(new int[] {15496, 995}, withBos.encode("Hello world", false));
    }

    /** GPT-2's vocabulary written as a GGUF file would hold it. */
    static GgufVocabulary asGguf(Tokenizer gpt2, String pre, int bos, boolean addBos) throws Exception {
        List<String> tokens = new ArrayList<>();
        for (int id = 0; id < gpt2.vocabSize(); id++) tokens.add(gpt2.tokenText(id));
        int[] types = new int[tokens.size()];
        Arrays.fill(types, GgufVocabulary.TYPE_NORMAL);
        types[50256] = GgufVocabulary.TYPE_CONTROL;
        List<String> merges = Files.readAllLines(SharedData.require("tokenizers/gpt2-merges.txt")).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#version")).toList();
        return new GgufVocabulary("gpt2", pre, tokens, null, types, merges, bos, 50256, -1, addBos, false);
    }
}
