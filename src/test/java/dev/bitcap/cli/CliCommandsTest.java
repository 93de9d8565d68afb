package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.format.SafetensorsFile;
import dev.bitcap.testing.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands' good paths, through the real command line. */
class CliCommandsTest {
    @TempDir Path dir;

    @Test
    void logitsJsonHasOneRowPerPositionMatchingTransformers() throws Exception {
        Path model = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        CliRunner r = CliRunner.run("logits", "--model", model.toString(), "--ids", "106,319,49,314,159,379,173", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out()).get("logits");
        assertEquals(7, rows.size());
        assertEquals(512, rows.get(0).size());
        try (SafetensorsFile ref = SafetensorsFile.open(model.resolve("reference.safetensors"))) {
            float[] expected = ref.tensor("logits_1").toFloatArray();
            for (int t = 0; t < 7; t++) {
                for (int v = 0; v < 512; v++) {
                    assertEquals(expected[t * 512 + v], rows.get(t).get(v).floatValue(), 1e-4);
                }
            }
        }
    }

    @Test
    void generateGreedyFromBosPrintsTheGoldenStory() {
        Path bin = SharedData.require("models/stories260K.bin");
        CliRunner r = CliRunner.run("generate", "--model", bin.toString(), "--temperature", "0", "--max-tokens", "60");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(dev.bitcap.testing.Golden.STORIES260K_FROM_BOS), r.out());
    }

    @Test
    void tokenizeJson() throws Exception {
        Path tok = SharedData.require("hf-fixtures/tokenizers/bytelevel-tokenizer.json");
        CliRunner r = CliRunner.run("tokenize", "--tokenizer", tok.toString(), "--text", "Hello, world!", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode ids = new ObjectMapper().readTree(r.out()).get("ids");
        assertEquals("[42,411,81,14,266,273,315,3]", ids.toString());
    }

    @Test
    void perplexityJsonOnStories() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin");
        Path text = SharedData.require("text/tinystories-val.txt");
        CliRunner r = CliRunner.run("perplexity", "--model", bin.toString(), "--text", text.toString(), "--ctx", "256",
                "--max-windows", "8", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(8 * 255, j.get("tokens").asLong());
        double ppl = j.get("perplexity").asDouble();
        assertTrue(ppl > 1.5 && ppl < 20, "a trained model on in-domain text: " + ppl);
    }

    @Test
    void synthThenInspectThenBench() throws Exception {
        Path out = dir.resolve("moe");
        CliRunner s = CliRunner.run("synth", "--arch", "mixtral", "--preset", "tiny-mixtral", "--dtype", "f16", "--out", out.toString());
        assertEquals(0, s.code(), s.err());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        CliRunner i = CliRunner.run("inspect", "--model", out.toString(), "--json");
        assertEquals(0, i.code(), i.err());
        JsonNode info = new ObjectMapper().readTree(i.out());
        assertEquals("mixtral", info.get("architecture").asText());
        assertTrue(info.get("active_parameters_per_token").asLong() < info.get("parameters").asLong());
        assertTrue(info.get("matrix_bytes_by_dtype").has("F16"));
        CliRunner b = CliRunner.run("bench", "--model", out.toString(), "--prompt-len", "16", "--gen", "4", "--repeat", "1", "--json");
        assertEquals(0, b.code(), b.err());
        JsonNode bench = new ObjectMapper().readTree(b.out());
        assertTrue(bench.get("decode_tokens_per_s").asDouble() > 0 && bench.get("prefill_tokens_per_s").asDouble() > 0);
        // time to first token: the measured prompt's, and the first request's, whose time from the process start contains it
        assertTrue(bench.get("ttft_ms").asDouble() > 0 && bench.get("first_request_ttft_ms").asDouble() > 0, b.out());
        assertTrue(bench.get("process_start_to_first_token_ms").asDouble() >= bench.get("first_request_ttft_ms").asDouble(), b.out());
        CliRunner again = CliRunner.run("synth", "--preset", "tiny-mixtral", "--out", out.toString());
        again.assertUserError("exists");
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : new String[] {"generate", "logits", "tokenize", "perplexity", "inspect", "bench", "synth", "quantize"}) {
            CliRunner r = CliRunner.run(c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Usage: bitcap " + c), r.out());
        }
    }
}
