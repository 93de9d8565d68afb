package dev.bitcap.model;

import dev.bitcap.BitcapException;
import dev.bitcap.format.GgufFile;
import dev.bitcap.format.HfConfig;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.format.Llama2cCheckpoint;
import dev.bitcap.format.SafetensorsCheckpoint;
import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.RopeStyle;
import dev.bitcap.tokenizer.GgufVocabulary;
import dev.bitcap.tokenizer.Tokenizer;
import dev.bitcap.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Opens whatever {@code --model} names: a Hugging Face folder (config.json + safetensors), a GGUF file, or a
 * llama2.c {@code .bin} checkpoint; weights stay memory-mapped.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** @param tokenizerFile an explicit tokenizer (tokenizer.json or llama2.c tokenizer.bin), or null to use the model's own */
    public static LoadedModel load(Path model, Path tokenizerFile) {
        if (!Files.exists(model)) throw new BitcapException("model " + model + " does not exist");
        if (tokenizerFile != null && !Files.isRegularFile(tokenizerFile)) {
            throw new BitcapException("tokenizer " + tokenizerFile + " does not exist");
        }
        String file = model.getFileName() == null ? model.toString() : model.getFileName().toString();
        if (Files.isDirectory(model)) return loadHf(model, tokenizerFile);
        if (file.endsWith(".gguf")) return loadGguf(model, tokenizerFile);
        if (file.endsWith(".bin")) return loadLlama2c(model, tokenizerFile);
        if (file.endsWith(".safetensors")) return loadHf(model.toAbsolutePath().getParent(), tokenizerFile);
        throw new BitcapException("model " + model + ": not a Hugging Face folder (config.json), a .gguf file or a llama2.c .bin checkpoint");
    }

    private static LoadedModel loadHf(Path dir, Path tokenizerFile) {
        Path configPath = dir.resolve("config.json");
        if (!Files.isRegularFile(configPath)) throw new BitcapException("model folder " + dir + " has no config.json");
        var json = HfConfig.read(configPath);
        ModelConfig config = HfConfigParser.parse(json, configPath.toString());
        QuantizationConfig quantization = QuantizationConfig.read(json, configPath.toString());
        SafetensorsCheckpoint source = SafetensorsCheckpoint.open(dir);
        Weights.Model weights;
        try {
            weights = new WeightBinder(source, new HfWeightLayout(config.family()), config, dir.toString(), quantization).bind();
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        Tokenizer tokenizer = tokenizerFile != null ? openTokenizerFile(tokenizerFile, config.vocabSize()) : folderTokenizer(dir, config);
        return new LoadedModel(dir.getFileName().toString(), "safetensors", config, weights, tokenizer, List.of(source));
    }

    /**
     * The tokenizer kept in a model folder: {@code tokenizer.json} (with {@code tokenizer_config.json}), or, in folders
     * bitcap writes from other formats, a llama2.c {@value #LLAMA2C_TOKENIZER} or a tensor-less {@value #GGUF_TOKENIZER}.
     */
    private static Tokenizer folderTokenizer(Path dir, ModelConfig config) {
        Path tokJson = dir.resolve("tokenizer.json");
        if (Files.isRegularFile(tokJson)) {
            Path tokConfig = dir.resolve("tokenizer_config.json");
            return Tokenizers.fromHuggingFace(tokJson, Files.isRegularFile(tokConfig) ? tokConfig : null);
        }
        if (Files.isRegularFile(dir.resolve(LLAMA2C_TOKENIZER))) return openTokenizerFile(dir.resolve(LLAMA2C_TOKENIZER), config.vocabSize());
        if (Files.isRegularFile(dir.resolve(GGUF_TOKENIZER))) {
            try (GgufFile g = GgufFile.open(dir.resolve(GGUF_TOKENIZER))) {
                return ggufTokenizer(g);
            }
        }
        return null;
    }

    /** File names of tokenizers bitcap copies into folders it writes from llama2.c and GGUF models. */
    public static final String LLAMA2C_TOKENIZER = "tokenizer.bin", GGUF_TOKENIZER = "tokenizer.gguf";

    private static LoadedModel loadGguf(Path path, Path tokenizerFile) {
        GgufFile gguf = GgufFile.open(path);
        try {
            ModelConfig config = GgufConfigParser.parse(gguf, path.toString());
            Weights.Model weights = new WeightBinder(gguf, new GgufWeightLayout(), config, path.toString()).bind();
            Tokenizer tokenizer = tokenizerFile != null ? openTokenizerFile(tokenizerFile, config.vocabSize()) : ggufTokenizer(gguf);
            return new LoadedModel(path.getFileName().toString(), "gguf", config, weights, tokenizer, List.of(gguf));
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    private static LoadedModel loadLlama2c(Path path, Path tokenizerFile) {
        Llama2cCheckpoint ckpt = Llama2cCheckpoint.open(path);
        try {
            var h = ckpt.header();
            ModelConfig config = new ModelConfig(Family.LLAMA, h.dim(), h.hiddenDim(), h.layers(), h.heads(), h.kvHeads(),
                    h.dim() / h.heads(), h.vocabSize(), h.seqLen(), 1e-5f, 10000.0, RopeScaling.NONE, RopeStyle.ADJACENT_PAIRS,
                    h.sharedClassifier(), false, 0, 0, 0, 0, false, 1, Set.of(), 1, 2);
            Weights.Model weights = new WeightBinder(ckpt, new HfWeightLayout(Family.LLAMA), config, path.toString()).bind();
            Path tok = tokenizerFile != null ? tokenizerFile : findLlama2cTokenizer(path, h.vocabSize());
            Tokenizer tokenizer = tok == null ? null : openTokenizerFile(tok, h.vocabSize());
            return new LoadedModel(path.getFileName().toString(), "llama2c", config, weights, tokenizer, List.of(ckpt));
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    private static Weights.Model bind(TensorSource source, WeightLayout layout, ModelConfig config, String origin) {
        try {
            return new WeightBinder(source, layout, config, origin).bind();
        } catch (RuntimeException e) {
            LoadedModel.closeQuietly(List.of(source));
            throw e;
        }
    }

    /**
     * The tokenizer files a model at {@code model} is read with, each with the name it has in a bitcap-written folder
     * (tokenizer.json and tokenizer_config.json, or a llama2.c tokenizer.bin); empty for a GGUF, whose tokenizer is
     * inside it. For writing a converted or quantized copy of the model.
     */
    public static Map<Path, String> tokenizerFiles(Path model, Path tokenizerFile, ModelConfig config) {
        Map<Path, String> files = new LinkedHashMap<>();
        if (tokenizerFile != null) {
            files.put(tokenizerFile, tokenizerFile.toString().endsWith(".json") ? "tokenizer.json" : LLAMA2C_TOKENIZER);
        } else if (Files.isDirectory(model)) {
            for (String name : new String[] {"tokenizer.json", "tokenizer_config.json", LLAMA2C_TOKENIZER, GGUF_TOKENIZER}) {
                if (Files.isRegularFile(model.resolve(name))) files.put(model.resolve(name), name);
            }
        } else if (model.toString().endsWith(".bin")) {
            Path tok = findLlama2cTokenizer(model, config.vocabSize());
            if (tok != null) files.put(tok, LLAMA2C_TOKENIZER);
        }
        return files;
    }

    /** llama2.c keeps its tokenizer beside the checkpoint as tokenizer.bin or tok{vocab}.bin. */
    private static Path findLlama2cTokenizer(Path model, int vocab) {
        Path dir = model.toAbsolutePath().getParent();
        for (String name : new String[] {"tok" + vocab + ".bin", "tokenizer.bin"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /** A tokenizer file on its own: tokenizer.json, a GGUF file's vocabulary, or a llama2.c tokenizer.bin (vocabSize 0 = all entries). */
    public static Tokenizer openTokenizerFile(Path file, int vocabSize) {
        if (!Files.isRegularFile(file)) throw new BitcapException("tokenizer " + file + " does not exist");
        String name = file.getFileName().toString();
        if (name.endsWith(".json")) {
            Path cfg = file.resolveSibling("tokenizer_config.json");
            return Tokenizers.fromHuggingFace(file, Files.isRegularFile(cfg) ? cfg : null);
        }
        if (name.endsWith(".gguf")) {
            try (GgufFile g = GgufFile.open(file)) {
                Tokenizer t = ggufTokenizer(g);
                if (t == null) throw new BitcapException(file + ": GGUF file holds no tokenizer");
                return t;
            }
        }
        return Tokenizers.fromLlama2c(file, vocabSize);
    }

    /** The tokenizer stored in a GGUF file's tokenizer.ggml.* keys, or null when it has none. */
    public static Tokenizer ggufTokenizer(GgufFile g) {
        List<Object> tokens = g.getArray("tokenizer.ggml.tokens");
        if (tokens == null) return null;
        String model = g.getString("tokenizer.ggml.model");
        List<String> pieces = new ArrayList<>(tokens.size());
        for (Object o : tokens) pieces.add((String) o);
        float[] scores = new float[pieces.size()];
        List<Object> s = g.getArray("tokenizer.ggml.scores");
        if (s != null) for (int i = 0; i < scores.length && i < s.size(); i++) scores[i] = ((Number) s.get(i)).floatValue();
        int[] types = new int[pieces.size()];
        List<Object> t = g.getArray("tokenizer.ggml.token_type");
        if (t != null) for (int i = 0; i < types.length && i < t.size(); i++) types[i] = ((Number) t.get(i)).intValue();
        List<String> merges = new ArrayList<>();
        List<Object> m = g.getArray("tokenizer.ggml.merges");
        if (m != null) for (Object o : m) merges.add((String) o);
        String pre = g.metadata().get("tokenizer.ggml.pre") instanceof String p ? p : null;
        boolean llama = model.equals("llama");
        boolean addBos = g.metadata().get("tokenizer.ggml.add_bos_token") instanceof Boolean b ? b : llama;
        boolean addSpace = g.metadata().get("tokenizer.ggml.add_space_prefix") instanceof Boolean b ? b : llama;
        return Tokenizers.fromGguf(new GgufVocabulary(model, pre, pieces, scores, types, merges,
                (int) g.getLong("tokenizer.ggml.bos_token_id", -1), (int) g.getLong("tokenizer.ggml.eos_token_id", -1),
                (int) g.getLong("tokenizer.ggml.unknown_token_id", -1), addBos, addSpace));
    }
}
