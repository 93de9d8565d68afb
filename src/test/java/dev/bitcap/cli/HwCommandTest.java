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
    void catalogOnlyPrintsTheTableAndTheNoGpuRowAndWritesJson() throws Exception {
        Path out = dir.resolve("hw.json");
        CliRunner r = CliRunner.run("hw", "--no-probe", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("h100-sxm") && r.out().contains("no GPU backend in this build"), r.out());
        JsonNode json = new ObjectMapper().readTree(out.toFile());
        assertEquals("h100-sxm", json.get("catalog").get(0).get("id").asText());
        assertTrue(json.get("gpu").asText().contains("no GPU backend"));
    }

    @Test
    void badInput() {
        CliRunner.run("hw", "--catalog", dir.resolve("none.json").toString()).assertUserError("no such file");
        CliRunner.run("hw", "--no-probe", "--max-chase-mb", "0").assertUserError("--max-chase-mb");
    }
}
