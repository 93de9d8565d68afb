package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bitcap cap} end to end on the built-in tiny MoE with a tiny workload, and its config-file errors. */
class CapCommandTest {
    @TempDir Path dir;

    private Path config(String json) throws IOException {
        Path f = dir.resolve("cap.json");
        Files.writeString(f, json);
        return f;
    }

    @Test
    void runsEveryConfigurationAndRecordsFailuresAndSkips() throws IOException {
        Path cfg = config("""
                {"workload": {"input_length": 8, "output_length": 4, "batch_sizes": [1, 2]},
                 "matrix": {"weights": [{"format": "f32"}, {"format": "int4-asym", "method": "rtn", "group": 32},
                                        {"format": "int8-sym", "method": "rtn", "group": 100}],
                            "kv": ["f32"], "kv_with_f32_weights": ["int4"]},
                 "configurations": [{"format": "f32", "kv": "int4", "device": "cuda"}],
                 "hardware": {"probe": false},
                 "accuracy": {"windows": 1, "context": 16}}
                """);
        Path out = dir.resolve("results");
        CliRunner r = CliRunner.run("cap", "--config", cfg.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode json = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        Map<String, String> status = new HashMap<>();
        for (JsonNode row : json.get("results")) status.put(row.get("configuration").asText() + " b" + row.get("batch").asInt(), row.get("status").asText());
        assertEquals(10, status.size(), status.toString());
        assertEquals("ok", status.get("f32 | kv f32 | cpu b1"));
        assertEquals("ok", status.get("int4-asym rtn g32 | kv f32 | cpu b2"));
        assertEquals("failed", status.get("int8-sym rtn g100 | kv f32 | cpu b1")); // group size 100 is not a multiple of 32
        assertEquals("ok", status.get("f32 | kv int4 | cpu b2")); // the low-bit KV cache runs on the cpu backend
        assertEquals("skipped", status.get("f32 | kv int4 | cuda b1")); // no GPU here, and the cuda backend keeps an f32 cache
        JsonNode f32 = json.get("results").get(0);
        assertEquals(1.0, f32.get("top1_agreement").asDouble(), 0); // f32 against itself
        assertTrue(f32.get("tpot_s").asDouble() > 0);
        assertTrue(f32.get("decode_experts_per_layer").asDouble() >= 2, "top-2 routing uses at least 2 experts per layer");
        JsonNode int4 = json.get("results").get(3);
        assertTrue(int4.get("mean_kl").asDouble() > 0, "int4 weights move the distributions away from f32");
        // g32 asym: 4-bit codes plus two fp16 parameters per 32 weights, every tiny-moe row a multiple of 32 wide
        assertEquals(4 + 2 * 16 / 32.0, int4.get("bits_per_weight").asDouble(), 1e-12);
        String csv = Files.readString(out.resolve("results.csv"));
        assertEquals(11, csv.lines().count(), csv);
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("<svg") && html.contains("CAP radar") && html.contains("Roofline"));
        assertTrue(!html.contains("http://") || html.replace("http://www.w3.org/2000/svg", "").indexOf("http://") < 0, "no network references");
        assertTrue(r.out().contains("report: "), r.out());
    }

    @Test
    void unknownKeyIsNamed() throws IOException {
        CliRunner.run("cap", "--config", config("{\"workload\": {\"batch_size\": [1]}}").toString()).assertUserError("workload.batch_size");
    }

    @Test
    void wrongTypeIsNamed() throws IOException {
        CliRunner.run("cap", "--config", config("{\"workload\": {\"input_length\": \"long\"}}").toString()).assertUserError("workload.input_length");
        CliRunner.run("cap", "--config", config("{\"matrix\": {\"weights\": [{\"format\": 4}]}}").toString()).assertUserError("matrix.weights[0].format");
        CliRunner.run("cap", "--config", config("{\"workload\": {\"batch_sizes\": [1, \"x\"]}}").toString()).assertUserError("workload.batch_sizes[1]");
    }

    @Test
    void badValuesAreUserErrors() throws IOException {
        CliRunner.run("cap", "--config", config("{\"metrics_mode\": \"fast\"}").toString()).assertUserError("metrics mode 'fast'");
        CliRunner.run("cap", "--no-probe", "--batch", "0").assertUserError("batch_sizes must be >= 1");
        CliRunner.run("cap", "--no-probe", "--hardware", "tpu-v9").assertUserError("unknown hardware id 'tpu-v9'");
        CliRunner.run("cap", "--config", dir.resolve("none.json").toString()).assertUserError("no such file");
    }
}
