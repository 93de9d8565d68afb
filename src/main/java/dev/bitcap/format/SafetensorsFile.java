package dev.bitcap.format;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One {@code .safetensors} file, memory-mapped read-only. The layout is an 8-byte little-endian header
 * length N, N bytes of JSON naming each tensor's dtype, shape and data offsets, then the data. Everything
 * in the header is checked against the file when it is opened.
 */
public final class SafetensorsFile implements TensorSource {
    /** Headers beyond this are not real checkpoints; the reference implementation uses the same limit. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    static final String METADATA_KEY = "__metadata__";

    private final MappedFile file;
    private final SortedMap<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(MappedFile file, SortedMap<String, Tensor> tensors, Map<String, String> metadata) {
        this.file = file;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code file} read-only and validates its header and every tensor's extent. */
    public static SafetensorsFile open(Path file) {
        MappedFile mapped = MappedFile.open(file);
        try {
            return parse(mapped);
        } catch (RuntimeException | Error e) {
            mapped.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(MappedFile mapped) {
        String name = mapped.path().toString();
        long size = mapped.size();
        if (size < 8) {
            throw new BitcapException(name + ": not a safetensors file (only " + size + " bytes, the header length alone needs 8)");
        }
        long headerBytes = mapped.segment().get(Tensor.I64_LE, 0);
        if (headerBytes < 0 || headerBytes > MAX_HEADER_BYTES) {
            throw new BitcapException(name + ": not a safetensors file (header length " + Long.toUnsignedString(headerBytes)
                    + " is over the " + MAX_HEADER_BYTES + "-byte limit)");
        }
        if (headerBytes > size - 8) {
            throw new BitcapException(name + ": truncated: header of " + headerBytes + " bytes ends at byte "
                    + (8 + headerBytes) + " but the file has " + size);
        }
        JsonNode header = Json.readObject(mapped.segment().asSlice(8, headerBytes), name + ": header");
        long dataStart = 8 + headerBytes;
        MemorySegment data = mapped.segment().asSlice(dataStart);

        SortedMap<String, Tensor> tensors = new TreeMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> entry : header.properties()) {
            if (entry.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(name, entry.getValue());
            } else {
                tensors.put(entry.getKey(), parseTensor(name, entry.getKey(), entry.getValue(), data, dataStart));
            }
        }
        return new SafetensorsFile(mapped, Collections.unmodifiableSortedMap(tensors), metadata);
    }

    private static Map<String, String> parseMetadata(String file, JsonNode node) {
        if (!node.isObject()) {
            throw new BitcapException(file + ": header: " + METADATA_KEY + " is not an object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new BitcapException(file + ": header: metadata value of " + ErrorText.clean(e.getKey()) + " is not a string");
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static Tensor parseTensor(String file, String tensorName, JsonNode entry, MemorySegment data, long dataStart) {
        String where = file + ": tensor " + ErrorText.clean(tensorName);
        if (!entry.isObject()) {
            throw new BitcapException(where + ": header entry is not an object");
        }
        JsonNode dtypeNode = entry.get("dtype");
        JsonNode shapeNode = entry.get("shape");
        JsonNode offsetsNode = entry.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new BitcapException(where + ": header entry has no \"dtype\" string");
        }
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new BitcapException(where + ": header entry has no \"shape\" array");
        }
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new BitcapException(where + ": header entry has no \"data_offsets\" pair");
        }
        String dtypeName = dtypeNode.textValue();
        DType dtype = SafetensorsDTypes.fromName(dtypeName);
        if (dtype == null) {
            throw new BitcapException(where + (SafetensorsDTypes.isKnownButUnsupported(dtypeName)
                    ? ": dtype " + dtypeName + " is not supported"
                    : ": unknown dtype " + ErrorText.clean(dtypeName)));
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(shapeNode.get(i), where + ": shape");
            elements = multiplyOrFail(elements, shape[i], where);
        }
        long begin = nonNegativeLong(offsetsNode.get(0), where + ": data_offsets");
        long end = nonNegativeLong(offsetsNode.get(1), where + ": data_offsets");
        long expected = multiplyOrFail(elements, dtype.blockBytes(), where);
        if (end < begin || end - begin != expected) {
            throw new BitcapException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but " + dtype + Arrays.toString(shape) + " needs " + expected);
        }
        if (end > data.byteSize()) {
            throw new BitcapException(file + ": truncated: tensor " + ErrorText.clean(tensorName) + " ends at byte "
                    + (dataStart + end) + " but the file has " + (dataStart + data.byteSize()));
        }
        return new Tensor(dtype, data.asSlice(begin, expected), shape);
    }

    private static long nonNegativeLong(JsonNode node, String where) {
        if (node == null || !node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 0) {
            throw new BitcapException(where + " holds " + ErrorText.clean(String.valueOf(node))
                    + ", expected a non-negative integer");
        }
        return node.longValue();
    }

    private static long multiplyOrFail(long a, long b, String where) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new BitcapException(where + ": shape is too large", e);
        }
    }

    /** The {@code __metadata__} strings (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public Path path() {
        return file.path();
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new BitcapException(file.path() + ": no tensor " + ErrorText.clean(name));
        }
        return t;
    }

    @Override
    public void close() {
        file.close();
    }
}
