package dev.bitcap.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds a {@link Tokenizer} from the vocabulary files that models come with. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * A Hugging Face tokenizer.json (BPE, byte-level or metaspace). tokenizer_config.json, when given, may set
     * bos_token, eos_token, add_bos_token and add_eos_token.
     */
    public static Tokenizer fromHuggingFace(Path tokenizerJson, Path tokenizerConfigJsonOrNull) {
        return HuggingFaceJsonLoader.load(tokenizerJson, tokenizerConfigJsonOrNull);
    }

    /** llama2.c's tokenizer.bin: int32 max_token_length, then vocabSize × (float32 score, int32 len, bytes). */
    public static Tokenizer fromLlama2c(Path tokenizerBin, int vocabSize) {
        return new SentencePieceTokenizer(Llama2cVocabularyReader.read(tokenizerBin, vocabSize));
    }

    /** The vocabulary of a GGUF file ("llama" or "gpt2" model). */
    public static Tokenizer fromGguf(GgufVocabulary vocab) {
        return GgufTokenizerFactory.create(vocab);
    }

    /**
     * GPT-2's original files: vocab.json (token to id) and merges.txt (one "a b" merge per line after a
     * "#version" line). Byte-level BPE with the GPT-2 split regex; {@code <|endoftext|>} is the special token.
     */
    public static Tokenizer fromGpt2Files(Path vocabJson, Path mergesTxt) {
        JsonNode root = HuggingFaceJsonLoader.readJson(vocabJson);
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt()) throw new BitcapException(vocabJson + ": id of '" + e.getKey() + "' is not an integer");
            vocab.put(e.getKey(), e.getValue().intValue());
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(mergesTxt, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BitcapException("cannot read " + mergesTxt + ": " + e.getMessage(), e);
        }
        List<String[]> merges = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank() || (i == 0 && line.startsWith("#version"))) continue;
            String[] parts = line.split(" ");
            if (parts.length != 2) throw new BitcapException(mergesTxt + ": line " + (i + 1) + " is not two tokens separated by a space");
            merges.add(parts);
        }
        BpeModel model = new BpeModel(vocab, merges, BpeModel.Options.PLAIN, vocabJson.toString());
        List<AddedToken> added = new ArrayList<>();
        int endOfText = model.id("<|endoftext|>");
        if (endOfText >= 0) added.add(AddedToken.special(endOfText, "<|endoftext|>"));
        return new PipelineTokenizer(new PipelineTokenizer.Parts(model, added, null,
                new PreTokenizer.ByteLevel(false, true), new int[0], new int[0], new TokenDecoder.ByteLevel(),
                endOfText, endOfText));
    }
}
