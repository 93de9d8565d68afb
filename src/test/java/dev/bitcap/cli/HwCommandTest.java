package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HwCommandTest {
    @TempDir Path dir;

    @Test
    void catalogOnlyPrintsTheTableAndTheNotProbedRowAndWritesJson() throws Exception {
        Path out = dir.resolve("hw.json");
        CliRunner r = CliRunner.run("hw", "--no-probe", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("h100-sxm") && r.out().contains("gpu: not probed (--no-probe)"), r.out());
        JsonNode json = new ObjectMapper().readTree(out.toFile());
        assertEquals("h100-sxm", json.get("catalog").get(0).get("id").asText());
        assertEquals("not probed (--no-probe)", json.get("gpu").asText());
        assertTrue(json.get("measured_gpu") == null);
    }

    @Test
    void deviceCpuMeasuresTheCpuOnlyAndSaysSo() throws Exception {
        Path out = dir.resolve("hw.json");
        CliRunner r = CliRunner.run("hw", "--device", "cpu", "--quick", "--max-chase-mb", "1", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("gpu: not probed (--device cpu)") && r.out().contains("STREAM triad"), r.out());
        JsonNode json = new ObjectMapper().readTree(out.toFile());
        assertTrue(json.get("measured_cpu").get("read_gb_s").asDouble() > 0);
        assertTrue(json.get("measured_gpu") == null);
    }

    @Test
    void badInput() {
        CliRunner.run("hw", "--catalog", dir.resolve("none.json").toString()).assertUserError("no such file");
        CliRunner.run("hw", "--no-probe", "--max-chase-mb", "0").assertUserError("--max-chase-mb");
        CliRunner.run("hw", "--no-probe", "--device", "tpu").assertUserError("--device must be auto, cpu or cuda, got 'tpu'");
    }
}
