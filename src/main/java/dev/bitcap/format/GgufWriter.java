package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files atomically (for tests and for converting synthetic models). Metadata values
 * are stored by their Java type: {@code String}; {@code Boolean}; {@code Byte} as int8; {@code Short} as
 * int16; {@code Integer} as uint32 (int32 if negative); {@code Long} as uint64 (int64 if negative);
 * {@code Float} as float32; {@code Double} as float64; a {@code List} as an array whose elements all have
 * one of these types (an integer array is signed if any element is negative). Tensors are written in map
 * order, each starting at a multiple of {@code general.alignment} (32 when the metadata has none).
 */
public final class GgufWriter {
    private static final int UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10,
            INT64 = 11, FLOAT64 = 12, INT8 = 1, INT16 = 3;

    private GgufWriter() {}

    public static void write(Path file, Map<String, Object> metadata, Map<String, Tensor> tensors) {
        long alignment = alignment(file, metadata);
        HeaderBuffer header = new HeaderBuffer();
        header.putInt(GgufFile.MAGIC);
        header.putInt(3);
        header.putLong(tensors.size());
        header.putLong(metadata.size());
        for (Map.Entry<String, Object> e : metadata.entrySet()) {
            header.putString(e.getKey());
            int type = typeOf(e.getKey(), e.getValue());
            header.putInt(type);
            putValue(header, e.getKey(), type, e.getValue());
        }
        long[] offsets = new long[tensors.size()];
        long dataBytes = 0;
        long dataEnd = 0;
        int i = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            int ggmlType = GgmlType.codeOf(t.dtype());
            if (ggmlType < 0) {
                throw new BitcapException(file + ": GGUF cannot hold " + t.dtype() + " tensor " + e.getKey());
            }
            if (t.rank() > GgufFile.MAX_DIMS) {
                throw new BitcapException(file + ": tensor " + e.getKey() + " has " + t.rank()
                        + " dimensions; GGUF allows at most " + GgufFile.MAX_DIMS);
            }
            if (t.dtype().isBlockQuantized() && t.cols() % t.dtype().blockSize() != 0) {
                throw new BitcapException(file + ": tensor " + e.getKey() + " rows of " + t.cols()
                        + " elements are not whole " + t.dtype() + " blocks");
            }
            header.putString(e.getKey());
            header.putInt(t.rank());
            for (int d = t.rank() - 1; d >= 0; d--) {
                header.putLong(t.dim(d)); // GGUF lists the innermost dimension first
            }
            header.putInt(ggmlType);
            offsets[i++] = dataBytes;
            header.putLong(dataBytes);
            dataEnd = dataBytes + t.byteSize();
            dataBytes = GgufFile.alignUp(dataEnd, alignment);
        }
        long dataStart = GgufFile.alignUp(header.size(), alignment);
        long total = tensors.isEmpty() ? header.size() : dataStart + dataEnd;
        byte[] headerBytes = header.toArray();
        AtomicFiles.write(file, temp -> {
            try (Arena arena = Arena.ofShared();
                 FileChannel channel = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
                MemorySegment.copy(headerBytes, 0, out, ValueLayout.JAVA_BYTE, 0, headerBytes.length);
                int k = 0;
                for (Tensor t : tensors.values()) {
                    MemorySegment.copy(t.data(), 0, out, dataStart + offsets[k++], t.byteSize());
                }
                out.force();
            }
        });
    }

    private static long alignment(Path file, Map<String, Object> metadata) {
        Object value = metadata.get(GgufFile.ALIGNMENT_KEY);
        if (value == null) {
            return GgufFile.DEFAULT_ALIGNMENT;
        }
        if ((value instanceof Integer || value instanceof Long) && ((Number) value).longValue() > 0
                && ((Number) value).longValue() <= (1 << 30) && Long.bitCount(((Number) value).longValue()) == 1) {
            return ((Number) value).longValue();
        }
        throw new BitcapException(file + ": " + GgufFile.ALIGNMENT_KEY + " is " + value + ", expected a power of two");
    }

    private static int typeOf(String key, Object value) {
        return switch (value) {
            case String _ -> STRING;
            case Boolean _ -> BOOL;
            case Byte _ -> INT8;
            case Short _ -> INT16;
            case Integer n -> n < 0 ? INT32 : UINT32;
            case Long n -> n < 0 ? INT64 : UINT64;
            case Float _ -> FLOAT32;
            case Double _ -> FLOAT64;
            case List<?> _ -> ARRAY;
            case null -> throw new IllegalArgumentException("GGUF metadata " + key + " is null");
            default -> throw new IllegalArgumentException("GGUF metadata " + key + " has unsupported Java type "
                    + value.getClass().getName());
        };
    }

    /** One element type for a whole list: all elements must share a type; integers are signed if any is negative. */
    private static int elementTypeOf(String key, List<?> list) {
        if (list.isEmpty()) {
            return UINT32;
        }
        int type = unsigned(typeOf(key, list.getFirst()));
        boolean negative = false;
        for (Object element : list) {
            int t = typeOf(key, element);
            if (unsigned(t) != type) {
                throw new IllegalArgumentException("GGUF metadata array " + key + " mixes element types");
            }
            negative |= t == INT32 || t == INT64;
        }
        return !negative ? type : type == UINT32 ? INT32 : INT64;
    }

    private static int unsigned(int type) {
        return type == INT32 ? UINT32 : type == INT64 ? UINT64 : type;
    }

    private static void putValue(HeaderBuffer out, String key, int type, Object value) {
        switch (type) {
            case STRING -> out.putString((String) value);
            case BOOL -> out.putByte((Boolean) value ? 1 : 0);
            case INT8 -> out.putByte(((Number) value).byteValue());
            case INT16 -> out.putShort(((Number) value).shortValue());
            case UINT32, INT32 -> out.putInt(((Number) value).intValue());
            case UINT64, INT64 -> out.putLong(((Number) value).longValue());
            case FLOAT32 -> out.putInt(Float.floatToRawIntBits(((Number) value).floatValue()));
            case FLOAT64 -> out.putLong(Double.doubleToRawLongBits(((Number) value).doubleValue()));
            case ARRAY -> {
                List<?> list = (List<?>) value;
                int elementType = elementTypeOf(key, list);
                out.putInt(elementType);
                out.putLong(list.size());
                for (Object element : list) {
                    putValue(out, key, elementType, element);
                }
            }
            default -> throw new IllegalStateException("no writer for GGUF type " + type);
        }
    }

    /** A growing little-endian byte buffer for the header, which is small next to the tensor data. */
    private static final class HeaderBuffer {
        private byte[] bytes = new byte[4096];
        private int size;

        int size() {
            return size;
        }

        byte[] toArray() {
            return Arrays.copyOf(bytes, size);
        }

        private void ensure(long extra) {
            long needed = size + extra;
            if (needed > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("GGUF header over 2 GB");
            }
            if (needed > bytes.length) {
                bytes = Arrays.copyOf(bytes, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(needed, 2L * bytes.length)));
            }
        }

        void putByte(int v) {
            ensure(1);
            bytes[size++] = (byte) v;
        }

        void putShort(int v) {
            ensure(2);
            bytes[size++] = (byte) v;
            bytes[size++] = (byte) (v >>> 8);
        }

        void putInt(int v) {
            ensure(4);
            for (int s = 0; s < 32; s += 8) {
                bytes[size++] = (byte) (v >>> s);
            }
        }

        void putLong(long v) {
            ensure(8);
            for (int s = 0; s < 64; s += 8) {
                bytes[size++] = (byte) (v >>> s);
            }
        }

        void putString(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            putLong(utf8.length);
            ensure(utf8.length);
            System.arraycopy(utf8, 0, bytes, size, utf8.length);
            size += utf8.length;
        }
    }
}
