package dev.bitcap.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes {@code .safetensors} files atomically. The file is mapped read-write and each tensor's bytes are
 * produced straight into its region, so multi-gigabyte checkpoints never pass through the Java heap.
 */
public final class SafetensorsWriter {
    /** Produces one tensor's bytes (little-endian, row-major) into {@code target}, which has exactly its size. */
    @FunctionalInterface
    public interface Filler {
        void fill(TensorSpec spec, MemorySegment target);
    }

    private SafetensorsWriter() {}

    /** Writes {@code specs} in order, each filled by {@code filler}, with {@code metadata} as {@code __metadata__}. */
    public static void write(Path file, List<TensorSpec> specs, Map<String, String> metadata, Filler filler) {
        byte[] header = header(file, specs, metadata);
        long total = 8L + header.length;
        for (TensorSpec spec : specs) {
            total += spec.byteSize();
        }
        long fileSize = total;
        AtomicFiles.write(file, temp -> {
            try (Arena arena = Arena.ofShared();
                 FileChannel channel = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, fileSize, arena);
                out.set(Tensor.I64_LE, 0, header.length);
                MemorySegment.copy(header, 0, out, ValueLayout.JAVA_BYTE, 8, header.length);
                long offset = 8L + header.length;
                for (TensorSpec spec : specs) {
                    long size = spec.byteSize();
                    filler.fill(spec, out.asSlice(offset, size));
                    offset += size;
                }
                out.force();
            }
        });
    }

    /** Writes {@code tensors} in their map's iteration order, copying each one's data. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        List<TensorSpec> specs = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            specs.add(new TensorSpec(e.getKey(), e.getValue().dtype(), e.getValue().shape()));
        }
        write(file, specs, metadata, (spec, target) ->
                MemorySegment.copy(tensors.get(spec.name()).data(), 0, target, 0, target.byteSize()));
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes so that the data starts aligned. */
    private static byte[] header(Path file, List<TensorSpec> specs, Map<String, String> metadata) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorSpec spec : specs) {
            String dtypeName = SafetensorsDTypes.nameOf(spec.dtype());
            if (dtypeName == null) {
                throw new BitcapException(file + ": safetensors cannot hold " + spec.dtype() + " tensor " + spec.name());
            }
            if (spec.name().equals(SafetensorsFile.METADATA_KEY) || !seen.add(spec.name())) {
                throw new BitcapException(file + ": tensor name " + spec.name() + " is reserved or used twice");
            }
            ObjectNode entry = root.putObject(spec.name());
            entry.put("dtype", dtypeName);
            ArrayNode shape = entry.putArray("shape");
            for (long d : spec.shape()) {
                shape.add(d);
            }
            long end = offset + spec.byteSize();
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = Json.MAPPER.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        int padded = (json.length + 7) & ~7;
        byte[] header = new byte[padded];
        System.arraycopy(json, 0, header, 0, json.length);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }
}
