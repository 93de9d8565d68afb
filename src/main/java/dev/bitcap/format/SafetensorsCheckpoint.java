package dev.bitcap.format;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A Hugging Face checkpoint: a directory with {@code model.safetensors}, or with
 * {@code model.safetensors.index.json} and the shards its {@code weight_map} names; or a single
 * {@code .safetensors} file (or index file) given directly. Each shard is mapped once.
 */
public final class SafetensorsCheckpoint implements TensorSource {
    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path location;
    private final List<SafetensorsFile> shards;
    private final SortedMap<String, SafetensorsFile> shardOfTensor;

    private SafetensorsCheckpoint(Path location, List<SafetensorsFile> shards, SortedMap<String, SafetensorsFile> shardOfTensor) {
        this.location = location;
        this.shards = shards;
        this.shardOfTensor = shardOfTensor;
    }

    /** Opens a checkpoint directory, a {@code .safetensors} file or a {@code .safetensors.index.json} file. */
    public static SafetensorsCheckpoint open(Path dirOrFile) {
        if (Files.isDirectory(dirOrFile)) {
            Path index = dirOrFile.resolve(INDEX_FILE);
            if (Files.isRegularFile(index)) {
                return openSharded(index);
            }
            Path single = dirOrFile.resolve(SINGLE_FILE);
            if (Files.isRegularFile(single)) {
                return openSingle(single);
            }
            throw new BitcapException(dirOrFile + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in this directory");
        }
        if (!Files.exists(dirOrFile)) {
            throw new BitcapException(dirOrFile + ": no such file or directory");
        }
        String fileName = dirOrFile.getFileName().toString();
        return fileName.endsWith(".json") ? openSharded(dirOrFile) : openSingle(dirOrFile);
    }

    private static SafetensorsCheckpoint openSingle(Path file) {
        SafetensorsFile only = SafetensorsFile.open(file);
        SortedMap<String, SafetensorsFile> owners = new TreeMap<>();
        for (String name : only.names()) {
            owners.put(name, only);
        }
        return new SafetensorsCheckpoint(file, List.of(only), Collections.unmodifiableSortedMap(owners));
    }

    private static SafetensorsCheckpoint openSharded(Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> openShards = new LinkedHashMap<>();
        try {
            SortedMap<String, SafetensorsFile> owners = new TreeMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shardName = e.getValue();
                SafetensorsFile shard = openShards.get(shardName);
                if (shard == null) {
                    shard = openShard(index, dir, shardName);
                    openShards.put(shardName, shard);
                }
                if (!shard.contains(e.getKey())) {
                    throw new BitcapException(index + ": weight_map puts tensor " + ErrorText.clean(e.getKey())
                            + " in shard " + ErrorText.clean(shardName) + ", which has no such tensor");
                }
                owners.put(e.getKey(), shard);
            }
            return new SafetensorsCheckpoint(index, List.copyOf(openShards.values()), Collections.unmodifiableSortedMap(owners));
        } catch (RuntimeException | Error e) {
            openShards.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static SafetensorsFile openShard(Path index, Path dir, String shardName) {
        Path shardPath = dir.resolve(shardName).normalize();
        // Shards live beside the index; a name that climbs out of the directory is a damaged or hostile index.
        if (shardName.isEmpty() || !dir.normalize().equals(shardPath.getParent())) {
            throw new BitcapException(index + ": shard name " + ErrorText.clean(shardName) + " is not a file name in the index's directory");
        }
        if (!Files.isRegularFile(shardPath)) {
            throw new BitcapException(index + ": shard " + ErrorText.clean(shardName) + " is missing (looked for " + shardPath + ")");
        }
        return SafetensorsFile.open(shardPath);
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root = Json.readObject(index);
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new BitcapException(index + ": no \"weight_map\" object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw new BitcapException(index + ": weight_map entry " + ErrorText.clean(e.getKey()) + " is not a file name string");
            }
            weightMap.put(e.getKey(), e.getValue().textValue());
        }
        return weightMap;
    }

    /** The shard files, in the order the index first names them (one file for an unsharded checkpoint). */
    public List<Path> shardPaths() {
        List<Path> paths = new ArrayList<>(shards.size());
        for (SafetensorsFile shard : shards) {
            paths.add(shard.path());
        }
        return paths;
    }

    @Override
    public Set<String> names() {
        return shardOfTensor.keySet();
    }

    @Override
    public boolean contains(String name) {
        return shardOfTensor.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        SafetensorsFile shard = shardOfTensor.get(name);
        if (shard == null) {
            throw new BitcapException(location + ": no tensor " + ErrorText.clean(name));
        }
        return shard.tensor(name);
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
