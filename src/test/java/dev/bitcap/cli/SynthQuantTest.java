package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.testing.Models;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code bitcap synth --quant} writes the folder that {@code bitcap quantize --method rtn} writes from the synthetic
 * checkpoint of the same preset, seed and dtype: the same safetensors bytes, config and tokenizer.
 */
class SynthQuantTest {
    @TempDir Path dir;

    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @CsvSource({
            "tiny-mixtral, bf16, int4-asym, 128, lm_head", // experts, group shorter at the row's end (192 columns)
            "tiny-qwen2moe, bf16, int4-asym, 128, lm_head", // shared expert with its gate, q/k/v biases
            "tiny-moe, f16, nf4, 32, none",                 // a table format, the head quantized too
            "tiny-llama, f32, int3-sym, -1, lm_head",       // per channel, 3-bit layout, f32 source
            "tiny-qwen2moe, bf16, int8-asym, 64, o_proj"})  // another skip pattern: every o_proj kept in bf16
    void writesTheBytesQuantizeWritesFromTheSyntheticSource(String preset, String dtype, String format, int group, String skip) throws Exception {
        Path source = dir.resolve("source"), quantized = dir.resolve("quantized"), direct = dir.resolve("direct");
        ok(CliRunner.run("synth", "--preset", preset, "--dtype", dtype, "--seed", "3", "--out", source.toString()));
        ok(CliRunner.run("quantize", "--model", source.toString(), "--format", format, "--group", "" + group, "--skip", skip,
                "--out", quantized.toString()));
        CliRunner r = CliRunner.run("synth", "--preset", preset, "--dtype", dtype, "--seed", "3", "--quant", format, "--group", "" + group,
                "--skip", skip, "--out", direct.toString());
        ok(r);
        assertTrue(r.out().contains(format + " g" + (group == -1 ? "-channel" : group)), r.out());
        assertSameFolder(quantized, direct);
        try (LoadedModel m = ModelLoader.load(direct, null)) {
            assertTrue(m.weights().layers()[0].attention().q() instanceof QuantizedTensor || skip.equals("q_proj"), "q is packed");
            float[] logits = Models.allLogits(m, new int[] {256, 1, 2, 300, 77});
            for (float v : logits) assertTrue(Float.isFinite(v), "logits are finite");
        }
    }

    /** A tied head that is quantized becomes its own matrix holding the embedding's values, as quantize writes it. */
    @Test
    void aTiedHeadThatIsQuantizedIsWrittenUntiedAsQuantizeWritesIt() throws Exception {
        ObjectNode cfg = SyntheticPresets.config("tiny-llama");
        cfg.put("tie_word_embeddings", true);
        Path config = dir.resolve("tied.json");
        Files.writeString(config, cfg.toString());
        Path source = dir.resolve("source"), quantized = dir.resolve("quantized"), direct = dir.resolve("direct"), kept = dir.resolve("kept");
        ok(CliRunner.run("synth", "--config", config.toString(), "--out", source.toString()));
        ok(CliRunner.run("quantize", "--model", source.toString(), "--format", "int4-asym", "--skip", "none", "--out", quantized.toString()));
        ok(CliRunner.run("synth", "--config", config.toString(), "--quant", "int4-asym", "--skip", "none", "--out", direct.toString()));
        assertSameFolder(quantized, direct);
        assertFalse(JSON.readTree(direct.resolve("config.json").toFile()).get("tie_word_embeddings").asBoolean());
        // with the head kept, it stays tied
        ok(CliRunner.run("synth", "--config", config.toString(), "--quant", "int4-asym", "--out", kept.toString()));
        assertTrue(JSON.readTree(kept.resolve("config.json").toFile()).get("tie_word_embeddings").asBoolean());
    }

    /** cap runs a packed checkpoint as stored: its true bits per weight and MoE-CAP precision label, not f32's. */
    @Test
    void capCountsAPackedCheckpointAsStored() throws Exception {
        Path packed = dir.resolve("packed"), bf16 = dir.resolve("bf16");
        ok(CliRunner.run("synth", "--preset", "tiny-mixtral", "--quant", "int4-asym", "--out", packed.toString()));
        ok(CliRunner.run("synth", "--preset", "tiny-mixtral", "--out", bf16.toString()));
        Path cfg = dir.resolve("cap.json");
        Files.writeString(cfg, """
                {"accuracy": {"windows": 1, "context": 16}, "hardware": {"probe": false},
                 "matrix": {"weights": [{"format": "f32"}], "kv": ["f32"], "kv_with_f32_weights": [], "devices": ["cpu"]},
                 "workload": {"input_length": 16, "output_length": 4, "batch_sizes": [1]}}
                """);
        // tiny-mixtral, per layer: q, k, v, o and 4 experts' gate and up have 128 columns (one group: 4 + 32/128 bits),
        // 4 down projections 192 (two groups: 4 + 64/192 bits); 49,152 + 196,608 + 98,304 weights
        double int4Bits = (245_760 * 4.25 + 98_304 * (4 + 64.0 / 192)) / 344_064;
        for (var c : List.of(new Object[] {packed, "int4"}, new Object[] {bf16, "bf16"})) {
            Path out = dir.resolve("cap-" + c[1]);
            ok(CliRunner.run("cap", "--config", cfg.toString(), "--model", c[0].toString(), "--out", out.toString()));
            JsonNode r = JSON.readTree(out.resolve("results.json").toFile()).get("results").get(0);
            assertEquals(c[1], r.get("moecap_precision_label").asText());
            double bits = r.get("bits_per_weight").asDouble();
            if (c[1].equals("bf16")) assertEquals(16.0, bits, 1e-12);
            else assertEquals(int4Bits, bits, 1e-9);
        }
    }

    @Test
    void badInputsAreOneLineErrors() {
        Path out = dir.resolve("x");
        CliRunner.run("synth", "--preset", "tiny-llama", "--quant", "int5-odd", "--out", out.toString()).assertUserError("unknown quantization format 'int5-odd'");
        CliRunner.run("synth", "--preset", "tiny-llama", "--quant", "int4-asym", "--group", "100", "--out", out.toString()).assertUserError("--group 100 is not valid");
        CliRunner.run("synth", "--preset", "tiny-llama", "--quant", "int4-asym", "--format", "gguf", "--out", out.toString()).assertUserError("drop --format gguf");
        CliRunner.run("synth", "--preset", "tiny-llama", "--group", "64", "--out", out.toString()).assertUserError("apply with --quant only");
        CliRunner.run("synth", "--preset", "tiny-llama", "--quant", "int4-asym", "--dtype", "q8_0", "--out", out.toString()).assertUserError("cannot be the source of --quant");
        assertFalse(Files.exists(out), "nothing is left behind");
    }

    private static void ok(CliRunner r) {
        assertEquals(0, r.code(), r.err());
    }

    private static void assertSameFolder(Path want, Path got) throws Exception {
        List<String> a = list(want), b = list(got);
        assertEquals(a, b, "files");
        assertEquals(-1, Files.mismatch(want.resolve("model.safetensors"), got.resolve("model.safetensors")), "model.safetensors bytes");
        assertEquals(-1, Files.mismatch(want.resolve("tokenizer.json"), got.resolve("tokenizer.json")), "tokenizer.json");
        ObjectNode wc = (ObjectNode) JSON.readTree(want.resolve("config.json").toFile()), gc = (ObjectNode) JSON.readTree(got.resolve("config.json").toFile());
        // bits per weight is a mean summed in another order by quantize: equal to rounding
        JsonNode wq = ((ObjectNode) wc.get("quantization_config")).remove("bits_per_weight");
        JsonNode gq = ((ObjectNode) gc.get("quantization_config")).remove("bits_per_weight");
        assertEquals(wq.asDouble(), gq.asDouble(), 1e-12, "bits per weight");
        assertEquals(wc, gc, "config.json");
    }

    private static List<String> list(Path d) throws Exception {
        List<String> names = new ArrayList<>();
        try (var s = Files.list(d)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        return names;
    }
}
