package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Segments;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A group-quantized weight matrix W [rows = outputs, cols = inputs] as it is stored: the codes in the
 * {@link PackedCodes} layout and the fp16 group parameters {@code [rows][groups][paramCount]}, both off-heap (a
 * checkpoint reader can hand in slices of a mapped file), and optionally one float per input column that
 * activations are multiplied by before the product (AWQ's input scale; null for none). The matrix is never held
 * as floats: {@link #matmul} decodes codes inside the dot products.
 */
public final class QuantizedTensor implements WeightMatrix {
    private final QuantFormat format;
    private final int rows, cols, groupSize;
    private final MemorySegment codes, params;
    private final float[] inputScale;
    private final PackedRowKernel kernel;

    /**
     * A tensor over existing segments. {@code groupSize} may be -1 for per channel. The segments must hold exactly
     * {@code rows * PackedCodes.rowBytes(bits, cols)} and {@code rows * groups * paramCount * 2} bytes.
     */
    public QuantizedTensor(QuantFormat format, int rows, int cols, int groupSize, MemorySegment codes,
            MemorySegment params, float[] inputScale) {
        if (rows <= 0 || cols <= 0) throw new BitcapException("quantized tensor has a bad shape " + rows + "x" + cols);
        PackedCodes.checkBits(format.codeBits());
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = QuantFormats.resolveGroupSize(groupSize, cols);
        long codeBytes = rows * PackedCodes.rowBytes(format.codeBits(), cols);
        long paramBytes = 2L * rows * GroupQuantized.groupsPerRow(cols, this.groupSize) * format.paramCount();
        if (codes.byteSize() != codeBytes || params.byteSize() != paramBytes) {
            throw new BitcapException("quantized tensor " + rows + "x" + cols + " " + storage() + " needs " + codeBytes
                    + " bytes of codes and " + paramBytes + " of parameters, got " + codes.byteSize() + " and " + params.byteSize());
        }
        if (inputScale != null && inputScale.length != cols) {
            throw new BitcapException("quantized tensor " + rows + "x" + cols + " has " + inputScale.length + " input scales");
        }
        this.codes = Segments.uniform(codes);
        this.params = Segments.uniform(params);
        this.inputScale = inputScale == null ? null : inputScale.clone();
        this.kernel = PackedRowKernel.of(this);
    }

    /** Packs {@code q} into 64-byte aligned memory of {@code arena} (shared or global: matmul runs on the pool). */
    public static QuantizedTensor pack(GroupQuantized q, float[] inputScale, Arena arena) {
        QuantFormat f = q.format();
        MemorySegment codes = arena.allocate(q.rows() * PackedCodes.rowBytes(f.codeBits(), q.cols()), 64);
        PackedCodes.pack(q, codes);
        MemorySegment params = arena.allocate(2L * q.params().length, 64);
        for (int i = 0; i < q.params().length; i++) params.setAtIndex(PackedCodes.I16, i, Float.floatToFloat16(q.params()[i]));
        return new QuantizedTensor(f, q.rows(), q.cols(), q.groupSize(), codes, params, inputScale);
    }

    /**
     * The effective weights, row-major floats: decoded values times the input scale of their column (so that
     * {@code y = x · dequantize()ᵀ} is what {@link #matmul} computes). For tests and fallbacks only.
     */
    public float[] dequantize() {
        int groups = GroupQuantized.groupsPerRow(cols, groupSize), pc = format.paramCount();
        long rowBytes = PackedCodes.rowBytes(format.codeBits(), cols);
        float[] out = new float[Math.multiplyExact(rows, cols)];
        float[] p = new float[pc];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int g = c / groupSize;
                for (int k = 0; k < pc; k++) {
                    p[k] = Float.float16ToFloat(params.getAtIndex(PackedCodes.I16, ((long) r * groups + g) * pc + k));
                }
                float v = format.decode(PackedCodes.code(codes, format.codeBits(), r * rowBytes, c), p, 0);
                out[r * cols + c] = inputScale == null ? v : v * inputScale[c];
            }
        }
        return out;
    }

    @Override
    public long rows() {
        return rows;
    }

    @Override
    public long cols() {
        return cols;
    }

    int colsInt() {
        return cols;
    }

    /** Columns padded to the 32-code unit: the activation stride the kernels read. */
    int cols32() {
        return (int) PackedCodes.paddedCols(cols);
    }

    public QuantFormat format() {
        return format;
    }

    /** The group size; {@code cols} when quantized per channel. */
    public int groupSize() {
        return groupSize;
    }

    public MemorySegment codes() {
        return codes;
    }

    public MemorySegment params() {
        return params;
    }

    /** A copy of the input scale, or null. */
    public float[] inputScale() {
        return inputScale == null ? null : inputScale.clone();
    }

    float[] inputScaleShared() {
        return inputScale;
    }

    PackedRowKernel kernel() {
        return kernel;
    }

    @Override
    public long byteSize() {
        return codes.byteSize() + params.byteSize() + (inputScale == null ? 0 : 4L * cols);
    }

    @Override
    public void matmul(float[] x, float[] y, int n) {
        QuantizedMatMul.matmul(this, x, y, n);
    }

    @Override
    public String storage() {
        return format.name() + (groupSize == cols ? " per-channel" : " g" + groupSize);
    }

    @Override
    public String toString() {
        return "QuantizedTensor[" + rows + "x" + cols + " " + storage() + "]";
    }
}
