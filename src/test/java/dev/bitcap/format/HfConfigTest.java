package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.BitcapException;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigTest {
    @TempDir
    Path dir;

    @Test
    void readsAFixtureConfig() {
        JsonNode config = HfConfig.read(SharedData.require("hf-fixtures/tiny-llama/config.json"));
        assertEquals(64, config.get("hidden_size").asInt());
        assertTrue(config.has("num_key_value_heads"));
    }

    @Test
    void missingFileInvalidJsonAndNonObject() throws IOException {
        Path missing = dir.resolve("config.json");
        assertEquals(missing + ": no such file", assertThrows(BitcapException.class, () -> HfConfig.read(missing)).getMessage());

        Files.writeString(missing, "{\"hidden_size\": 64,");
        String invalid = assertThrows(BitcapException.class, () -> HfConfig.read(missing)).getMessage();
        assertTrue(invalid.startsWith(missing + ": invalid JSON ("), invalid);
        assertTrue(!invalid.contains("\n"), invalid);

        Files.writeString(missing, "[]");
        assertTrue(assertThrows(BitcapException.class, () -> HfConfig.read(missing)).getMessage().contains("expected an object"));

        Files.writeString(missing, "{} {}");
        assertTrue(assertThrows(BitcapException.class, () -> HfConfig.read(missing)).getMessage().contains("invalid JSON"));
    }
}
