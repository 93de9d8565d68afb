package dev.bitcap.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.model.synth.SyntheticCheckpointWriter;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.tensor.DType;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SyntheticFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Synthetic checkpoints are deterministic, load in every format, and the GGUF export holds the same model. */
class SyntheticCheckpointTest {
    @TempDir Path dir;

    private static final int[] IDS = {256, 1, 2, 300, 77, 115, 500, 9};

    @Test
    void theSameSeedWritesTheSameBytes() throws Exception {
        Path a = SyntheticFixtures.hf("tiny-llama", DType.BF16, dir.resolve("a"));
        Path b = SyntheticFixtures.hf("tiny-llama", DType.BF16, dir.resolve("b"));
        assertEquals(-1, Files.mismatch(a.resolve("model.safetensors"), b.resolve("model.safetensors")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-mixtral", "tiny-qwen2moe", "tiny-moe"})
    void ggufExportHoldsTheSameModelAsTheHuggingFaceFolder(String preset) {
        try (LoadedModel hf = ModelLoader.load(SyntheticFixtures.hf(preset, DType.F32, dir), null);
             LoadedModel gguf = ModelLoader.load(SyntheticFixtures.gguf(preset, DType.F32, dir), null)) {
            assertEquals(hf.config().ropeStyle() == gguf.config().ropeStyle(), hf.config().family() != Family.LLAMA
                    && hf.config().family() != Family.MIXTRAL, "llama-family GGUF uses adjacent pairs with permuted Q/K rows");
            double err = Models.maxAbsDiff(Models.allLogits(hf, IDS), Models.allLogits(gguf, IDS));
            assertTrue(err < 1e-4, preset + ": HF vs GGUF logits differ by " + err);
            assertArrayEquals(hf.tokenizer().encode("once upon a time", true), gguf.tokenizer().encode("once upon a time", true));
        }
    }

    @Test
    void lowerPrecisionCopiesStayCloseToF32() {
        try (LoadedModel f32 = ModelLoader.load(SyntheticFixtures.hf("tiny-llama", DType.F32, dir), null);
             LoadedModel bf16 = ModelLoader.load(SyntheticFixtures.hf("tiny-llama", DType.BF16, dir), null);
             LoadedModel q8 = ModelLoader.load(SyntheticFixtures.gguf("tiny-llama", DType.Q8_0, dir), null);
             LoadedModel q4 = ModelLoader.load(SyntheticFixtures.gguf("tiny-llama", DType.Q4_0, dir), null)) {
            float[] ref = Models.allLogits(f32, IDS);
            double scale = 0;
            for (float v : ref) scale = Math.max(scale, Math.abs(v));
            double eBf16 = Models.maxAbsDiff(ref, Models.allLogits(bf16, IDS)) / scale;
            double eQ8 = Models.maxAbsDiff(ref, Models.allLogits(q8, IDS)) / scale;
            double eQ4 = Models.maxAbsDiff(ref, Models.allLogits(q4, IDS)) / scale;
            assertTrue(eBf16 < 0.05, "bf16 relative error " + eBf16);
            assertTrue(eQ8 < 0.05, "q8_0 relative error " + eQ8);
            assertTrue(eQ4 < 0.5 && eQ4 > eQ8, "q4_0 relative error " + eQ4 + " (q8_0 " + eQ8 + ")");
            assertEquals("Q4_0", q4.weights().layers()[0].attention().q().storage(), "Q4_0 weights are used on their own blocks");
        }
    }

    @Test
    void llama3RopeScalingTravelsIntoGgufAsFrequencyFactors() {
        var json = SyntheticPresets.config("tiny-llama");
        // original context 64 puts the 16 frequencies of a 32-wide head in all three bands of the llama3 rule
        json.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 64);
        ModelConfig c = HfConfigParser.parse(json, "scaled");
        Path hfDir = dir.resolve("scaled"), ggufFile = dir.resolve("scaled.gguf");
        SyntheticCheckpointWriter.writeHf(json, c, DType.F32, 1, hfDir, false, n -> {});
        SyntheticCheckpointWriter.writeGguf(c, DType.F32, 1, ggufFile, n -> {});
        try (LoadedModel hf = ModelLoader.load(hfDir, null); LoadedModel gguf = ModelLoader.load(ggufFile, null);
             LoadedModel plain = ModelLoader.load(SyntheticFixtures.hf("tiny-llama", DType.F32, dir), null)) {
            assertEquals(RopeScaling.Type.FACTORS, gguf.config().ropeScaling().type());
            float[] want = hf.config().ropeScaling().inverseFrequencies(32, 10000);
            float[] got = gguf.config().ropeScaling().inverseFrequencies(32, 10000);
            for (int j = 0; j < want.length; j++) assertEquals(want[j], got[j], want[j] * 1e-6, "frequency " + j);
            float[] scaled = Models.allLogits(hf, IDS);
            assertTrue(Models.maxAbsDiff(scaled, Models.allLogits(plain, IDS)) > 1e-3, "the scaling changes the logits");
            double err = Models.maxAbsDiff(scaled, Models.allLogits(gguf, IDS));
            assertTrue(err < 1e-4, "HF vs GGUF logits with llama3 scaling differ by " + err);
        }
    }
}
