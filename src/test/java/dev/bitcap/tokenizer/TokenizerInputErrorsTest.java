package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.testing.SharedData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Bad files and vocabularies give one-line BitcapExceptions that name the problem. */
class TokenizerInputErrorsTest {
    @TempDir
    Path dir;

    private static void fails(Executable call, String... mentioned) {
        BitcapException e = assertThrows(BitcapException.class, call);
        assertEquals(-1, e.getMessage().indexOf('\n'), "one line: " + e.getMessage());
        for (String m : mentioned) assertTrue(e.getMessage().contains(m), e.getMessage() + " should mention " + m);
    }

    @Test
    void missingAndMalformedJson() throws Exception {
        Path missing = dir.resolve("nope.json");
        fails(() -> Tokenizers.fromHuggingFace(missing, null), "nope.json");
        Path broken = Files.writeString(dir.resolve("broken.json"), "{\"model\": {\"type\": \"BPE\", ");
        fails(() -> Tokenizers.fromHuggingFace(broken, null), "broken.json");
        Path array = Files.writeString(dir.resolve("array.json"), "[1, 2]");
        fails(() -> Tokenizers.fromHuggingFace(array, null), "array.json", "not a JSON object");
        Path noModel = Files.writeString(dir.resolve("nomodel.json"), "{\"added_tokens\": []}");
        fails(() -> Tokenizers.fromHuggingFace(noModel, null), "model");
        Path badMerge = Files.writeString(dir.resolve("badmerge.json"),
                "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}");
        fails(() -> Tokenizers.fromHuggingFace(badMerge, null), "merge 'a'");
    }

    @Test
    void truncatedAndCorruptLlama2cFiles() throws Exception {
        byte[] tok = Files.readAllBytes(SharedData.require("models/tok512.bin"));
        Path truncated = Files.write(dir.resolve("truncated.bin"), Arrays.copyOf(tok, 3000));
        fails(() -> Tokenizers.fromLlama2c(truncated, 512), "truncated.bin", "expected 512");
        byte[] corrupt = tok.clone();
        ByteBuffer.wrap(corrupt).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 4, -5); // length of token 0
        Path negative = Files.write(dir.resolve("negative.bin"), corrupt);
        fails(() -> Tokenizers.fromLlama2c(negative, 512), "token 0", "length -5");
        ByteBuffer.wrap(corrupt).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 4, Integer.MAX_VALUE);
        Path huge = Files.write(dir.resolve("huge.bin"), corrupt);
        fails(() -> Tokenizers.fromLlama2c(huge, 512), "beyond the end");
        Path tiny = Files.write(dir.resolve("tiny.bin"), new byte[2]);
        fails(() -> Tokenizers.fromLlama2c(tiny, 512), "too short");
        fails(() -> Tokenizers.fromLlama2c(SharedData.require("models/tok512.bin"), 2), "vocabulary size 2");
        fails(() -> Tokenizers.fromLlama2c(SharedData.require("models/tok512.bin"), 513), "expected 513");
        fails(() -> Tokenizers.fromLlama2c(dir.resolve("absent.bin"), 512), "absent.bin");
    }

    @Test
    void badGgufVocabularies() {
        List<String> tokens = List.of("<unk>", "<s>", "</s>", "a");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("bert", null, tokens, null, null, null, 1, 2, 0, true, true)),
                "'bert'");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("llama", null, tokens, new float[3], null, null, 1, 2, 0, true, true)),
                "4 tokens but 3 scores");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("llama", null, tokens, null, null, null, 9, 2, 0, true, true)),
                "bos id 9");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("gpt2", "deepseek-llm", tokens, null, null, List.of(), 1, 2, -1,
                false, false)), "deepseek-llm");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("gpt2", "gpt2", tokens, null, null, null, 1, 2, -1, false, false)),
                "merges");
        fails(() -> Tokenizers.fromGguf(new GgufVocabulary("llama", null, List.of(), null, null, null, -1, -1, -1, true, true)),
                "empty");
    }

    @Test
    void idsOutsideTheVocabulary() {
        Tokenizer t = Tokenizers.fromLlama2c(SharedData.require("models/tok512.bin"), 512);
        fails(() -> t.tokenText(512), "512");
        fails(() -> t.tokenText(-1), "-1");
        // decoding drops ids it does not know, like Hugging Face (a model's padded vocabulary can sample them)
        assertEquals("Once", t.decode(new int[] {403, 99999, -3}, true));
        Tokenizer hf = HuggingFaceFixtureTest.byteLevel();
        fails(() -> hf.tokenText(512), "512");
        assertEquals("", hf.decode(new int[] {7777}, false));
    }
}
