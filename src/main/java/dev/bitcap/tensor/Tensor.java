package dev.bitcap.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dense tensor over off-heap memory: a dtype, a shape (outermost dimension first, row-major) and a
 * {@link MemorySegment}, which is usually a slice of a memory-mapped file. Tensors never copy their data.
 * All multi-byte values are little-endian.
 */
public final class Tensor implements WeightMatrix {
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final long[] shape;
    private final MemorySegment data;

    public Tensor(DType dtype, MemorySegment data, long... shape) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = Segments.uniform(data);
        long expected = dtype.byteSize(elementCount(shape));
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + dtype + Arrays.toString(shape) + " needs " + expected
                    + " bytes, segment has " + data.byteSize());
        }
    }

    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        return new Tensor(dtype, arena.allocate(dtype.byteSize(elementCount(shape)), 64), shape);
    }

    /** An F32 tensor holding a copy of {@code values}. */
    public static Tensor ofFloats(Arena arena, float[] values, long... shape) {
        Tensor t = allocate(arena, DType.F32, shape);
        MemorySegment.copy(values, 0, t.data, F32_LE, 0, values.length);
        return t;
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elementCount() {
        return elementCount(shape);
    }

    public MemorySegment data() {
        return data;
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    @Override
    public void matmul(float[] x, float[] y, int n) {
        MatMul.matmul(this, x, y, n);
    }

    @Override
    public String storage() {
        return dtype.name();
    }

    /** Rows of a matrix view: the product of all dimensions but the last. */
    @Override
    public long rows() {
        return shape.length == 0 ? 1 : elementCount() / shape[shape.length - 1];
    }

    /** Columns of a matrix view: the last dimension. */
    @Override
    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Rows {@code [start, start+count)} along the outermost dimension, sharing this tensor's memory. */
    public Tensor slice(long start, long count) {
        long inner = elementCount() / shape[0];
        long rowBytes = dtype.byteSize(inner);
        long[] s = shape.clone();
        s[0] = count;
        return new Tensor(dtype, data.asSlice(start * rowBytes, count * rowBytes), s);
    }

    /** The same memory seen with another shape of equal element count. */
    public Tensor reshape(long... newShape) {
        if (elementCount(newShape) != elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(dtype, data, newShape);
    }

    /** One element as float, whatever the dtype (slow path: for tests, loaders and small tensors). */
    public float getFloat(long index) {
        return switch (dtype) {
            case F32 -> data.get(F32_LE, index * 4);
            case F16 -> Float.float16ToFloat(data.get(I16_LE, index * 2));
            case BF16 -> Float.intBitsToFloat((data.get(I16_LE, index * 2) & 0xFFFF) << 16);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, index);
            case U8 -> data.get(ValueLayout.JAVA_BYTE, index) & 0xFF;
            case I16 -> data.get(I16_LE, index * 2);
            case I32 -> data.get(I32_LE, index * 4);
            case I64 -> data.get(I64_LE, index * 8);
            case Q8_0 -> {
                long block = index / 32, j = index % 32, base = block * 34;
                float d = Float.float16ToFloat(data.get(I16_LE, base));
                yield d * data.get(ValueLayout.JAVA_BYTE, base + 2 + j);
            }
            case Q4_0 -> {
                long block = index / 32, j = index % 32, base = block * 18;
                float d = Float.float16ToFloat(data.get(I16_LE, base));
                int b = data.get(ValueLayout.JAVA_BYTE, base + 2 + (j & 15)) & 0xFF;
                int q = j < 16 ? (b & 0xF) : (b >>> 4);
                yield d * (q - 8);
            }
        };
    }

    /** All elements as a new float array (must fit in an array). */
    public float[] toFloatArray() {
        int n = Math.toIntExact(elementCount());
        float[] out = new float[n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32_LE, 0, out, 0, n);
        } else {
            for (int i = 0; i < n; i++) out[i] = getFloat(i);
        }
        return out;
    }

    /** All elements as longs, for integer tensors (token ids). */
    public long[] toLongArray() {
        int n = Math.toIntExact(elementCount());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case I64 -> data.get(I64_LE, (long) i * 8);
                case I32 -> data.get(I32_LE, (long) i * 4);
                default -> (long) getFloat(i);
            };
        }
        return out;
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
