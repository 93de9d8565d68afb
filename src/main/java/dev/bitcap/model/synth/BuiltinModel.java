package dev.bitcap.model.synth;

import dev.bitcap.model.HfConfigParser;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * bitcap's embedded default model: the {@code tiny-moe} preset with seed 0 in F32, written once into the
 * user's cache folder ({@code $BITCAP_CACHE}, else {@code ~/.cache/bitcap}) and reused from there.
 */
public final class BuiltinModel {
    public static final String NAME = "tiny-moe";

    private BuiltinModel() {}

    public static Path path() {
        String cache = System.getenv("BITCAP_CACHE");
        Path root = cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "bitcap");
        Path dir = root.resolve("builtin").resolve(NAME + "-v1");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            var json = SyntheticPresets.config(NAME);
            ModelConfig config = HfConfigParser.parse(json, "preset " + NAME);
            SyntheticCheckpointWriter.writeHf(json, config, DType.F32, 0, dir, true, done -> {});
        }
        return dir;
    }
}
