package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.math.BigInteger;
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
 * A GGUF file (versions 2 and 3, little-endian), memory-mapped read-only. Metadata values are widened to
 * a few Java types: {@code String}; {@code Long} for every integer type (uint64 keeps its bits);
 * {@code Double} for float32 and float64; {@code Boolean}; {@code List<Object>} for arrays, whose elements
 * follow the same rules. Tensor shapes are reported outermost first (GGUF stores the innermost first).
 * Tensors of ggml types bitcap cannot read are listed; asking for one is a {@link BitcapException}.
 */
public final class GgufFile implements TensorSource {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int
    static final long DEFAULT_ALIGNMENT = 32;
    static final String ALIGNMENT_KEY = "general.alignment";
    /** ggml tensors have at most this many dimensions. */
    static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_NESTING = 8;
    /** The fewest bytes one metadata entry (empty key, type, one-byte value) or tensor info can take. */
    private static final long MIN_ENTRY_BYTES = 8 + 4 + 1;
    private static final long MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

    /** A tensor as listed in the header: readable ones carry their Tensor, others only their ggml type. */
    private record Entry(Tensor tensor, long ggmlType) {}

    private final MappedFile file;
    private final int version;
    private final Map<String, Object> metadata;
    private final SortedMap<String, Entry> tensors;
    private final long dataStart;

    private GgufFile(MappedFile file, int version, Map<String, Object> metadata, SortedMap<String, Entry> tensors,
                     long dataStart) {
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
    }

    /** Maps {@code file} read-only and validates its header and every readable tensor's extent. */
    public static GgufFile open(Path file) {
        MappedFile mapped = MappedFile.open(file);
        try {
            return new Parser(mapped).parse();
        } catch (RuntimeException | Error e) {
            mapped.close();
            throw e;
        }
    }

    /** Reads the header in one pass; every count is checked against the bytes left before anything is allocated. */
    private static final class Parser {
        private final MappedFile mapped;
        private final String name;
        private final SegmentReader in;

        Parser(MappedFile mapped) {
            this.mapped = mapped;
            this.name = mapped.path().toString();
            this.in = new SegmentReader(name, mapped.segment(), 0);
        }

        GgufFile parse() {
            if (mapped.size() < 4) {
                throw new BitcapException(name + ": not a GGUF file (only " + mapped.size() + " bytes)");
            }
            int magic = in.i32("magic");
            if (magic != MAGIC) {
                throw new BitcapException(name + ": not a GGUF file (bad magic 0x" + String.format("%08X", magic) + ")");
            }
            int version = in.i32("version");
            if (version != 2 && version != 3) {
                boolean bigEndian = version != 0 && (version & 0xFFFF) == 0;
                throw new BitcapException(name + ": unsupported GGUF version " + Integer.toUnsignedString(version)
                        + (bigEndian ? " (a big-endian file?)" : "") + "; bitcap reads versions 2 and 3");
            }
            long tensorCount = in.i64("tensor count");
            long kvCount = in.i64("metadata count");
            requirePlausibleCount(kvCount, MIN_ENTRY_BYTES, "metadata entries");
            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = in.utf8(length("metadata key"), "metadata key");
                String what = "value of metadata key " + ErrorText.clean(key);
                int type = in.i32(what);
                Object value = readValue(type, what, 0);
                if (metadata.putIfAbsent(key, value) != null) {
                    throw new BitcapException(name + ": metadata key " + ErrorText.clean(key) + " appears twice");
                }
            }
            long alignment = alignment(metadata);
            requirePlausibleCount(tensorCount, MIN_TENSOR_INFO_BYTES, "tensor infos");
            List<TensorInfo> infos = new ArrayList<>();
            for (long i = 0; i < tensorCount; i++) {
                infos.add(readTensorInfo());
            }
            long dataStart = alignUp(in.position(), alignment);
            SortedMap<String, Entry> tensors = new TreeMap<>();
            for (TensorInfo info : infos) {
                if (tensors.put(info.name, locate(info, dataStart, alignment)) != null) {
                    throw new BitcapException(name + ": tensor " + ErrorText.clean(info.name) + " appears twice");
                }
            }
            return new GgufFile(mapped, version, Collections.unmodifiableMap(metadata),
                    Collections.unmodifiableSortedMap(tensors), dataStart);
        }

        private record TensorInfo(String name, long[] ne, long type, long offset) {}

        private void requirePlausibleCount(long count, long minBytesEach, String what) {
            if (count < 0 || count > in.remaining() / minBytesEach) {
                throw new BitcapException(name + ": header claims " + Long.toUnsignedString(count) + " " + what
                        + " but only " + in.remaining() + " bytes are left at byte " + in.position());
            }
        }

        private long length(String what) {
            long length = in.i64(what + " length");
            in.require(length, what);
            return length;
        }

        /** One value of a type; {@code what} names it in errors ("value of metadata key K"). */
        private Object readValue(int type, String what, int depth) {
            return switch (type) {
                case 0 -> (long) in.u8(what);
                case 1 -> (long) (byte) in.u8(what);
                case 2 -> (long) (in.i16(what) & 0xFFFF);
                case 3 -> (long) (short) in.i16(what);
                case 4 -> in.i32(what) & 0xFFFF_FFFFL;
                case 5 -> (long) in.i32(what);
                case 6 -> (double) in.f32(what);
                case 7 -> in.u8(what) != 0;
                case 8 -> in.utf8(length(what), what);
                case 9 -> readArray(what, depth);
                case 10, 11 -> in.i64(what);
                case 12 -> in.f64(what);
                default -> throw new BitcapException(name + ": " + what + " has unknown type " + Integer.toUnsignedString(type));
            };
        }

        private List<Object> readArray(String what, int depth) {
            if (depth >= MAX_ARRAY_NESTING) {
                throw new BitcapException(name + ": " + what + " is nested more than " + MAX_ARRAY_NESTING + " deep");
            }
            int elementType = in.i32(what);
            long minBytes = switch (elementType) {
                case 0, 1, 7 -> 1;
                case 2, 3 -> 2;
                case 4, 5, 6 -> 4;
                case 8, 10, 11, 12 -> 8;
                case 9 -> 12;
                default -> throw new BitcapException(name + ": " + what + " has unknown element type "
                        + Integer.toUnsignedString(elementType));
            };
            long count = in.i64(what + " length");
            if (count < 0 || count > in.remaining() / minBytes || count > Integer.MAX_VALUE - 8) {
                throw new BitcapException(name + ": truncated: " + what + " claims " + Long.toUnsignedString(count)
                        + " elements but only " + in.remaining() + " bytes are left at byte " + in.position());
            }
            List<Object> values = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                values.add(readValue(elementType, what, depth + 1));
            }
            return Collections.unmodifiableList(values);
        }

        private long alignment(Map<String, Object> metadata) {
            Object value = metadata.get(ALIGNMENT_KEY);
            if (value == null) {
                return DEFAULT_ALIGNMENT;
            }
            if (!(value instanceof Long a) || a <= 0 || a > (1 << 30) || Long.bitCount(a) != 1) {
                throw new BitcapException(name + ": " + ALIGNMENT_KEY + " is " + ErrorText.clean(String.valueOf(value))
                        + ", expected a power of two");
            }
            return a;
        }

        private TensorInfo readTensorInfo() {
            String tensorName = in.utf8(length("tensor name"), "tensor name");
            String what = "tensor " + ErrorText.clean(tensorName);
            long dims = in.i32(what + " dimension count") & 0xFFFF_FFFFL;
            if (dims > MAX_DIMS) {
                throw new BitcapException(name + ": " + what + " has " + dims + " dimensions; GGUF allows at most " + MAX_DIMS);
            }
            long[] ne = new long[(int) dims];
            for (int d = 0; d < ne.length; d++) {
                ne[d] = in.i64(what + " dimensions");
                if (ne[d] < 0) {
                    throw new BitcapException(name + ": " + what + " has dimension " + Long.toUnsignedString(ne[d]));
                }
            }
            long type = in.i32(what + " type") & 0xFFFF_FFFFL;
            long offset = in.i64(what + " offset");
            return new TensorInfo(tensorName, ne, type, offset);
        }

        private Entry locate(TensorInfo info, long dataStart, long alignment) {
            String what = "tensor " + ErrorText.clean(info.name);
            long size = mapped.size();
            if (info.offset < 0 || info.offset % alignment != 0) {
                throw new BitcapException(name + ": " + what + " offset " + Long.toUnsignedString(info.offset)
                        + " is not a multiple of the alignment " + alignment);
            }
            DType dtype = GgmlType.dtypeOf((int) Math.min(info.type, Integer.MAX_VALUE));
            if (info.offset > size - dataStart) {
                throw new BitcapException(name + ": truncated: " + what + " starts at byte "
                        + BigInteger.valueOf(dataStart).add(BigInteger.valueOf(info.offset)) + " but the file has " + size);
            }
            long start = dataStart + info.offset;
            if (dtype == null) {
                return new Entry(null, info.type);
            }
            long[] shape = new long[info.ne.length];
            long elements = 1;
            for (int d = 0; d < shape.length; d++) {
                shape[d] = info.ne[info.ne.length - 1 - d];
                try {
                    elements = Math.multiplyExact(elements, shape[d]);
                } catch (ArithmeticException e) {
                    throw new BitcapException(name + ": " + what + " has too many elements", e);
                }
            }
            long rowLength = info.ne.length == 0 ? 1 : info.ne[0];
            if (rowLength % dtype.blockSize() != 0) {
                throw new BitcapException(name + ": " + what + " rows of " + rowLength + " elements are not whole "
                        + dtype + " blocks of " + dtype.blockSize());
            }
            long blocks = elements / dtype.blockSize();
            if (blocks > (size - start) / dtype.blockBytes()) {
                BigInteger end = BigInteger.valueOf(blocks).multiply(BigInteger.valueOf(dtype.blockBytes())).add(BigInteger.valueOf(start));
                throw new BitcapException(name + ": truncated: " + what + " ends at byte " + end + " but the file has " + size);
            }
            long bytes = blocks * dtype.blockBytes();
            return new Entry(new Tensor(dtype, mapped.segment().asSlice(start, bytes), shape), info.type);
        }
    }

    static long alignUp(long position, long alignment) {
        return (position + alignment - 1) / alignment * alignment;
    }

    public int version() {
        return version;
    }

    public Path path() {
        return file.path();
    }

    /** Where the tensor data section begins: the header and its padding end here. */
    long dataStart() {
        return dataStart;
    }

    /** All metadata in file order (values typed as described in the class comment). */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The string at {@code key}; a {@link BitcapException} naming the key if it is missing or not a string. */
    public String getString(String key) {
        return required(key, String.class, "a string");
    }

    /** The integer at {@code key}; a {@link BitcapException} naming the key if it is missing or not an integer. */
    public long getLong(String key) {
        return required(key, Long.class, "an integer");
    }

    /** The integer at {@code key}, or {@code dflt} if absent; a {@link BitcapException} if it is not an integer. */
    public long getLong(String key, long dflt) {
        Long value = optional(key, Long.class, "an integer");
        return value == null ? dflt : value;
    }

    /** The number at {@code key} (float or integer), or {@code dflt} if absent. */
    public double getDouble(String key, double dflt) {
        Number value = optional(key, Number.class, "a number");
        return value == null ? dflt : value.doubleValue();
    }

    /** The array at {@code key}, or null if absent; a {@link BitcapException} if it is not an array. */
    @SuppressWarnings("unchecked")
    public List<Object> getArray(String key) {
        return optional(key, List.class, "an array");
    }

    private <T> T required(String key, Class<T> type, String expected) {
        T value = optional(key, type, expected);
        if (value == null) {
            throw new BitcapException(file.path() + ": missing metadata key " + key);
        }
        return value;
    }

    private <T> T optional(String key, Class<T> type, String expected) {
        Object value = metadata.get(key);
        if (value == null) {
            return null;
        }
        if (!type.isInstance(value)) {
            throw new BitcapException(file.path() + ": metadata key " + key + " is " + describe(value) + ", expected " + expected);
        }
        return type.cast(value);
    }

    private static String describe(Object value) {
        return switch (value) {
            case Long _ -> "an integer";
            case Double _ -> "a float";
            case Boolean _ -> "a boolean";
            case String _ -> "a string";
            case List<?> _ -> "an array";
            default -> value.getClass().getSimpleName();
        };
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor called {@code name}, shape outermost first; unreadable ggml types are a {@link BitcapException}. */
    @Override
    public Tensor tensor(String name) {
        Entry entry = tensors.get(name);
        if (entry == null) {
            throw new BitcapException(file.path() + ": no tensor " + ErrorText.clean(name));
        }
        if (entry.tensor == null) {
            throw new BitcapException(file.path() + ": tensor " + ErrorText.clean(name) + " has ggml type "
                    + GgmlType.describe(entry.ggmlType) + ", which bitcap cannot read");
        }
        return entry.tensor;
    }

    @Override
    public void close() {
        file.close();
    }
}
