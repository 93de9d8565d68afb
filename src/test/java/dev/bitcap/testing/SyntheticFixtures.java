package dev.bitcap.testing;

import dev.bitcap.model.HfConfigParser;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.synth.SyntheticCheckpointWriter;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.tensor.DType;
import java.nio.file.Path;

/** Writes small synthetic checkpoints for tests. */
public final class SyntheticFixtures {
    private SyntheticFixtures() {}

    public static Path hf(String preset, DType dtype, Path dir) {
        var json = SyntheticPresets.config(preset);
        ModelConfig c = HfConfigParser.parse(json, preset);
        Path out = dir.resolve(preset + "-" + dtype.name().toLowerCase());
        SyntheticCheckpointWriter.writeHf(json, c, dtype, 1, out, false, n -> {});
        return out;
    }

    public static Path gguf(String preset, DType dtype, Path dir) {
        var json = SyntheticPresets.config(preset);
        ModelConfig c = HfConfigParser.parse(json, preset);
        Path out = dir.resolve(preset + "-" + dtype.name().toLowerCase() + ".gguf");
        SyntheticCheckpointWriter.writeGguf(c, dtype, 1, out, n -> {});
        return out;
    }
}
