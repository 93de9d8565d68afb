package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsCheckpointTest {
    @TempDir
    Path dir;

    @Test
    void opensAFixtureDirectoryThroughItsSingleFile() {
        Path fixture = SharedData.require("hf-fixtures/tiny-mixtral/model.safetensors").getParent();
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(fixture);
             SafetensorsFile f = SafetensorsFile.open(fixture.resolve("model.safetensors"))) {
            assertEquals(f.names(), c.names());
            assertEquals(List.of(fixture.resolve("model.safetensors")), c.shardPaths());
            for (String name : f.names()) {
                assertEquals(-1, f.tensor(name).data().mismatch(c.tensor(name).data()), name);
            }
        }
    }

    @Test
    void opensAShardedCheckpointWithEachShardOnce() throws IOException {
        writeShards();
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(dir)) {
            assertEquals(List.of("a", "b", "c"), List.copyOf(c.names()));
            assertEquals(2, c.shardPaths().size());
            assertArrayEquals(new float[] {1, 2}, c.tensor("a").toFloatArray());
            assertArrayEquals(new float[] {3}, c.tensor("b").toFloatArray());
            assertArrayEquals(new float[] {4, 5, 6}, c.tensor("c").toFloatArray());
            assertTrue(c.contains("b"));
            BitcapException e = assertThrows(BitcapException.class, () -> c.tensor("d"));
            assertTrue(e.getMessage().endsWith("model.safetensors.index.json: no tensor d"), e.getMessage());
        }
        try (SafetensorsCheckpoint viaIndex = SafetensorsCheckpoint.open(dir.resolve("model.safetensors.index.json"));
             SafetensorsCheckpoint viaShard = SafetensorsCheckpoint.open(dir.resolve("model-00002-of-00002.safetensors"))) {
            assertEquals(3, viaIndex.names().size());
            assertEquals(List.of("c"), List.copyOf(viaShard.names()));
        }
    }

    @Test
    void missingShardIsNamed() throws IOException {
        writeShards();
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        BitcapException e = assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("shard model-00002-of-00002.safetensors is missing"), e.getMessage());
    }

    @Test
    void indexThatPutsATensorInTheWrongShard() throws IOException {
        writeShards();
        writeIndex(Map.of("a", "model-00002-of-00002.safetensors"));
        BitcapException e = assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("weight_map puts tensor a in shard model-00002-of-00002.safetensors, which has no such tensor"),
                e.getMessage());
    }

    @Test
    void indexWithoutWeightMapOrWithAnEscapingShardName() throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {}}");
        assertTrue(assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(dir)).getMessage()
                .contains("no \"weight_map\" object"));
        writeIndex(Map.of("a", "../elsewhere.safetensors"));
        assertTrue(assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(dir)).getMessage()
                .contains("is not a file name in the index's directory"));
    }

    @Test
    void directoryWithoutACheckpointAndMissingPath() {
        BitcapException empty = assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(dir));
        assertEquals(dir + ": no model.safetensors or model.safetensors.index.json in this directory", empty.getMessage());
        Path missing = dir.resolve("nothing");
        assertEquals(missing + ": no such file or directory",
                assertThrows(BitcapException.class, () -> SafetensorsCheckpoint.open(missing)).getMessage());
    }

    private void writeShards() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> first = new LinkedHashMap<>();
            first.put("a", Tensor.ofFloats(arena, new float[] {1, 2}, 2));
            first.put("b", Tensor.ofFloats(arena, new float[] {3}, 1));
            SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), first, Map.of("format", "pt"));
            SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"),
                    Map.of("c", Tensor.ofFloats(arena, new float[] {4, 5, 6}, 3)), Map.of("format", "pt"));
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        weightMap.put("a", "model-00001-of-00002.safetensors");
        weightMap.put("c", "model-00002-of-00002.safetensors");
        weightMap.put("b", "model-00001-of-00002.safetensors");
        writeIndex(weightMap);
    }

    private void writeIndex(Map<String, String> weightMap) throws IOException {
        var root = Json.MAPPER.createObjectNode();
        root.putObject("metadata").put("total_size", 24);
        var map = root.putObject("weight_map");
        weightMap.forEach(map::put);
        Files.write(dir.resolve("model.safetensors.index.json"), Json.MAPPER.writeValueAsBytes(root));
    }
}
