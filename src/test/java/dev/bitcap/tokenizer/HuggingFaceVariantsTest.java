package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixture tokenizer.json files rewritten with other pipeline parts (templates, Llama-3 style splits,
 * Metaspace pre-tokenizers, added-token options, tokenizer_config.json), checked against the reference ids where
 * the change cannot alter them and against equivalent encodings otherwise.
 */
class HuggingFaceVariantsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    private Tokenizer variant(String fixture, Consumer<ObjectNode> edit) throws Exception {
        ObjectNode root = (ObjectNode) JSON.readTree(Files.readAllBytes(HuggingFaceFixtureTest.fixture(fixture)));
        edit.accept(root);
        Path file = Files.createTempFile(dir, "tokenizer", ".json");
        Files.write(file, JSON.writeValueAsBytes(root));
        return Tokenizers.fromHuggingFace(file, null);
    }

    private Path config(String json) throws Exception {
        Path file = Files.createTempFile(dir, "tokenizer_config", ".json");
        Files.writeString(file, json);
        return file;
    }

    private static JsonNode node(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static final String BOS_TEMPLATE = """
            {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
             "pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}}""";

    @Test
    void templateAddsBosOnlyWithSpecialTokens() throws Exception {
        Tokenizer t = variant("metaspace-tokenizer.json", r -> r.set("post_processor", node(BOS_TEMPLATE)));
        for (HuggingFaceFixtureTest.Sample s : HuggingFaceFixtureTest.samples("metaspace")) {
            assertArrayEquals(s.ids(), t.encode(s.text(), false));
            assertArrayEquals(HuggingFaceFixtureTest.concat(new int[] {1}, s.ids()), t.encode(s.text(), true));
            // Hugging Face's Strip decoder removes one space from the start of the whole text, which is "<s>" here
            assertEquals(s.text().isEmpty() ? "<s>" : "<s> " + s.text(), t.decode(t.encode(s.text(), true), false));
        }
        assertEquals(1, t.bosId());
    }

    @Test
    void sequenceAndRobertaPostProcessors() throws Exception {
        int[] hello = HuggingFaceFixtureTest.samples("bytelevel").get(0).ids();
        Tokenizer llama3Style = variant("bytelevel-tokenizer.json", r -> r.set("post_processor", node("""
                {"type":"Sequence","processors":[{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},
                 {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|im_start|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                  "pair":[],"special_tokens":{"<|im_start|>":{"id":"<|im_start|>","ids":[1],"tokens":["<|im_start|>"]}}}]}""")));
        assertArrayEquals(HuggingFaceFixtureTest.concat(new int[] {1}, hello), llama3Style.encode("Hello, world!", true));
        assertEquals(1, llama3Style.bosId());
        Tokenizer roberta = variant("bytelevel-tokenizer.json", r -> r.set("post_processor", node("""
                {"type":"RobertaProcessing","sep":["<|im_end|>",2],"cls":["<|im_start|>",1],"trim_offsets":true,"add_prefix_space":false}""")));
        assertArrayEquals(HuggingFaceFixtureTest.concat(new int[] {1}, hello, new int[] {2}), roberta.encode("Hello, world!", true));
        assertArrayEquals(hello, roberta.encode("Hello, world!", false));
        assertEquals(2, roberta.eosId());
    }

    @Test
    void tokenizerConfigOverridesTemplate() throws Exception {
        ObjectNode root = (ObjectNode) JSON.readTree(Files.readAllBytes(HuggingFaceFixtureTest.fixture("metaspace-tokenizer.json")));
        root.set("post_processor", node(BOS_TEMPLATE));
        Path json = Files.createTempFile(dir, "tokenizer", ".json");
        Files.write(json, JSON.writeValueAsBytes(root));
        int[] hello = HuggingFaceFixtureTest.samples("metaspace").get(0).ids();

        Tokenizer noBosWithEos = Tokenizers.fromHuggingFace(json,
                config("{\"add_bos_token\": false, \"add_eos_token\": true, \"eos_token\": \"</s>\"}"));
        assertArrayEquals(HuggingFaceFixtureTest.concat(hello, new int[] {2}), noBosWithEos.encode("Hello, world!", true));

        Tokenizer objectForm = Tokenizers.fromHuggingFace(json,
                config("{\"bos_token\": {\"content\": \"</s>\", \"special\": true}, \"add_bos_token\": true}"));
        assertEquals(2, objectForm.bosId());
        assertArrayEquals(HuggingFaceFixtureTest.concat(new int[] {2, 1}, hello), objectForm.encode("Hello, world!", true));

        Tokenizer noBos = Tokenizers.fromHuggingFace(json, config("{\"bos_token\": null}"));
        assertEquals(-1, noBos.bosId());

        BitcapException e = assertThrows(BitcapException.class,
                () -> Tokenizers.fromHuggingFace(json, config("{\"eos_token\": \"<|nope|>\"}")));
        assertTrue(e.getMessage().contains("<|nope|>"), e.getMessage());
    }

    @Test
    void llama3AndQwen2SplitsGiveReferenceIdsWhereTheySplitLikeGpt2() throws Exception {
        for (String regex : List.of(SplitPatterns.LLAMA3, SplitPatterns.QWEN2)) {
            Tokenizer t = variant("bytelevel-tokenizer.json", r -> {
                ObjectNode split = JSON.createObjectNode().put("type", "Split").put("behavior", "Isolated").put("invert", false);
                split.putObject("pattern").put("Regex", regex);
                ObjectNode byteLevel = JSON.createObjectNode().put("type", "ByteLevel")
                        .put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", false);
                ObjectNode seq = JSON.createObjectNode().put("type", "Sequence");
                seq.putArray("pretokenizers").add(split).add(byteLevel);
                r.set("pre_tokenizer", seq);
            });
            for (HuggingFaceFixtureTest.Sample s : HuggingFaceFixtureTest.samples("bytelevel")) {
                // Python's regex module splits these samples identically with the GPT-2 and the Llama-3/Qwen2 regex
                if (s.text().startsWith("  leading") || s.text().startsWith("1234567890")) continue;
                assertArrayEquals(s.ids(), t.encode(s.text(), false), s.text());
            }
            String text = "I'M here 12345\n\n\tx\u3000y 東京";
            assertEquals(text, t.decode(t.encode(text, false), false));
        }
    }

    @Test
    void byteLevelPrefixSpaceIsAddedToEachSegment() throws Exception {
        Tokenizer plain = HuggingFaceFixtureTest.byteLevel();
        Tokenizer prefixed = variant("bytelevel-tokenizer.json",
                r -> ((ObjectNode) r.get("pre_tokenizer")).put("add_prefix_space", true));
        assertArrayEquals(plain.encode(" Hello, world!", false), prefixed.encode("Hello, world!", false));
        assertArrayEquals(plain.encode(" Hello", false), prefixed.encode(" Hello", false));
        assertArrayEquals(HuggingFaceFixtureTest.concat(plain.encode(" a", false), new int[] {2}, plain.encode(" b", false)),
                prefixed.encode("a<|im_end|>b", false));
    }

    @Test
    void metaspacePreTokenizerSchemes() throws Exception {
        ObjectNode metaspaceFirst = (ObjectNode) node("{\"type\":\"Metaspace\",\"replacement\":\"▁\",\"prepend_scheme\":\"first\",\"split\":false}");
        Tokenizer first = variant("metaspace-tokenizer.json", r -> {
            r.putNull("normalizer");
            r.set("pre_tokenizer", metaspaceFirst);
        });
        Tokenizer always = variant("metaspace-tokenizer.json", r -> {
            r.putNull("normalizer");
            r.set("pre_tokenizer", metaspaceFirst.deepCopy().put("prepend_scheme", "always"));
        });
        for (HuggingFaceFixtureTest.Sample s : HuggingFaceFixtureTest.samples("metaspace")) {
            if (s.text().startsWith(" ")) {
                // Metaspace prepends no ▁ to text that starts with one; the Prepend normalizer does
                assertArrayEquals(java.util.Arrays.copyOfRange(s.ids(), 1, s.ids().length), always.encode(s.text(), false));
            } else {
                assertArrayEquals(s.ids(), first.encode(s.text(), false), s.text());
                assertArrayEquals(s.ids(), always.encode(s.text(), false), s.text());
            }
        }
        int a = first.idOf("a").orElseThrow(), spaceA = first.encode("a", false)[0];
        assertEquals("▁a", first.tokenText(spaceA));
        assertArrayEquals(new int[] {spaceA, 2, a}, first.encode("a</s>a", false), "no ▁ after a special token");
        assertArrayEquals(new int[] {spaceA, 2, spaceA}, always.encode("a</s>a", false));
    }

    @Test
    void addedTokenOptions() throws Exception {
        Tokenizer plain = HuggingFaceFixtureTest.byteLevel();
        Tokenizer t = variant("bytelevel-tokenizer.json", r -> {
            ArrayNode added = (ArrayNode) r.get("added_tokens");
            ((ObjectNode) added.get(2)).put("lstrip", true).put("rstrip", true); // <|im_end|>
            ((ObjectNode) added.get(1)).put("single_word", true); // <|im_start|>
            added.add(node("{\"id\":300,\"content\":\"ROMEO\",\"single_word\":false,\"lstrip\":false,"
                    + "\"rstrip\":false,\"normalized\":true,\"special\":false}"));
        });
        assertArrayEquals(HuggingFaceFixtureTest.concat(plain.encode("hi", false), new int[] {2}, plain.encode("there", false)),
                t.encode("hi \t<|im_end|>\n there", false));
        int[] inWord = t.encode("x<|im_start|>y", false);
        assertTrue(java.util.Arrays.stream(inWord).noneMatch(id -> id == 1), "not a single word, so not matched");
        assertEquals("x<|im_start|>y", t.decode(inWord, false));
        assertArrayEquals(HuggingFaceFixtureTest.concat(plain.encode("x ", false), new int[] {1}, plain.encode(" y", false)),
                t.encode("x <|im_start|> y", false));
        assertArrayEquals(HuggingFaceFixtureTest.concat(new int[] {300}, plain.encode(": O", false)), t.encode("ROMEO: O", false));
        assertEquals("ROMEO", t.decode(new int[] {300}, true), "a non-special added token survives skipSpecial");
    }

    @Test
    void normalizedAddedTokenIsMatchedAfterNormalization() throws Exception {
        Tokenizer plain = HuggingFaceFixtureTest.metaspace();
        Tokenizer t = variant("metaspace-tokenizer.json", r -> ((ArrayNode) r.get("added_tokens")).add(node(
                "{\"id\":400,\"content\":\"a b\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                        + "\"normalized\":true,\"special\":false}")));
        // the normalizer turns "x a b" into "▁x▁a▁b", where the token's normalized form "▁a▁b" is found
        assertArrayEquals(HuggingFaceFixtureTest.concat(plain.encode("x", false), new int[] {400}), t.encode("x a b", false));
    }

    @Test
    void streamDecodingOfMetaspaceFixture() {
        Tokenizer m = HuggingFaceFixtureTest.metaspace();
        String text = "  naïve café — 東京 🚀 end";
        int[] ids = m.encode(text, false);
        Tokenizer.StreamDecoder stream = m.streamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.next(id);
            assertEquals(-1, piece.indexOf('\uFFFD'));
            out.append(piece);
        }
        out.append(stream.flush());
        assertEquals(m.decode(ids, false), out.toString());
        assertEquals(text, out.toString());
    }

    @Test
    void ggufLlamaBpeEqualsTokenizerJsonWithTheSameParts() throws Exception {
        Tokenizer json = variant("bytelevel-tokenizer.json", r -> {
            ((ObjectNode) r.get("model")).put("ignore_merges", true);
            ObjectNode split = JSON.createObjectNode().put("type", "Split").put("behavior", "Isolated").put("invert", false);
            split.putObject("pattern").put("Regex", SplitPatterns.LLAMA3);
            ObjectNode seq = JSON.createObjectNode().put("type", "Sequence");
            seq.putArray("pretokenizers").add(split).add(node("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}"));
            r.set("pre_tokenizer", seq);
        });
        JsonNode model = JSON.readTree(Files.readAllBytes(HuggingFaceFixtureTest.fixture("bytelevel-tokenizer.json"))).get("model");
        String[] tokens = new String[json.vocabSize()];
        model.get("vocab").fields().forEachRemaining(e -> tokens[e.getValue().intValue()] = e.getKey());
        java.util.List<String> merges = new java.util.ArrayList<>();
        for (JsonNode m : model.get("merges")) merges.add(m.get(0).asText() + " " + m.get(1).asText());
        int[] types = new int[tokens.length];
        java.util.Arrays.fill(types, GgufVocabulary.TYPE_NORMAL);
        types[0] = types[1] = types[2] = GgufVocabulary.TYPE_CONTROL;
        Tokenizer gguf = Tokenizers.fromGguf(new GgufVocabulary("gpt2", "llama-bpe", List.of(tokens), null, types, merges,
                -1, 0, -1, false, false));
        String text = Files.readString(dev.bitcap.testing.SharedData.require("text/tinyshakespeare.txt")).substring(0, 30_000)
                + " I'M 12345 naïve 東京 🚀 <|im_start|>x<|im_end|>\r\n\t ";
        assertArrayEquals(json.encode(text, false), gguf.encode(text, false));
        assertEquals(json.stopIds(), gguf.stopIds());
        assertEquals(text, gguf.decode(gguf.encode(text, false), false));
    }

    @Test
    void unsupportedPartsAreNamed() throws Exception {
        BitcapException model = assertThrows(BitcapException.class, () -> variant("bytelevel-tokenizer.json",
                r -> ((ObjectNode) r.get("model")).put("type", "Unigram")));
        assertTrue(model.getMessage().contains("Unigram"), model.getMessage());
        BitcapException pre = assertThrows(BitcapException.class, () -> variant("bytelevel-tokenizer.json",
                r -> r.set("pre_tokenizer", node("{\"type\":\"BertPreTokenizer\"}"))));
        assertTrue(pre.getMessage().contains("BertPreTokenizer"), pre.getMessage());
        BitcapException merge = assertThrows(BitcapException.class, () -> variant("bytelevel-tokenizer.json",
                r -> ((ArrayNode) r.get("model").get("merges")).add(node("[\"zzz\", \"q\"]"))));
        assertTrue(merge.getMessage().contains("zzz"), merge.getMessage());
        BitcapException noUnk = assertThrows(BitcapException.class, () -> variant("metaspace-tokenizer.json", r -> {
            ((ObjectNode) r.get("model")).put("byte_fallback", false).putNull("unk_token");
        }).encode("東", false));
        assertTrue(noUnk.getMessage().contains("U+6771"), noUnk.getMessage());
    }
}
