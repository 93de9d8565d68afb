package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;
import dev.bitcap.tensor.Segments;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A binarized weight matrix W [rows = outputs, cols = inputs] (BiLLM / STBLLM) as it is stored: sign and state
 * planes, fp16 block parameters and the salient-column bitmap, all off-heap in the {@link BinaryLayout} layout (a
 * checkpoint reader hands in slices of a mapped file). The matrix is never held as floats: {@link #matmul} looks
 * the weights up in per-block value tables inside the dot products.
 */
public final class BinaryTensor implements WeightMatrix {
    /** Packed bytes per GEMM block: small enough to stay in a core's L2 with its activations. */
    private static final int GEMV_MIN_ROWS = 32;

    private final int rows, cols, keptPer8, regions;
    private final MemorySegment signs, states, params, salient;
    private final BinaryRows kernel;

    /** A tensor over existing segments, which must have exactly the sizes {@link BinaryLayout} gives. */
    public BinaryTensor(int rows, int cols, int keptPer8, int regions, MemorySegment signs, MemorySegment states, MemorySegment params,
                        MemorySegment salient) {
        if (rows <= 0 || cols <= 0) throw new BitcapException("binary tensor has a bad shape " + rows + "x" + cols);
        BinaryLayout.check(keptPer8, regions);
        this.rows = rows;
        this.cols = cols;
        this.keptPer8 = keptPer8;
        this.regions = regions;
        int stateBits = BinaryLayout.stateBits(keptPer8, regions);
        long[] expected = {rows * BinaryLayout.signBytesPerRow(cols), rows * BinaryLayout.stateBytesPerRow(cols, stateBits),
                2L * rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions), BinaryLayout.salientBytes(cols)};
        long[] got = {signs.byteSize(), states.byteSize(), params.byteSize(), salient.byteSize()};
        if (!java.util.Arrays.equals(expected, got)) {
            throw new BitcapException("binary tensor " + rows + "x" + cols + " " + storage() + " needs " + java.util.Arrays.toString(expected)
                    + " bytes of signs, states, parameters and salient bitmap, got " + java.util.Arrays.toString(got));
        }
        this.signs = Segments.uniform(signs);
        this.states = Segments.uniform(states);
        this.params = Segments.uniform(params);
        this.salient = Segments.uniform(salient);
        this.kernel = new BinaryRows(this);
    }

    /** Packs {@code q} into 64-byte aligned memory of {@code arena} (shared or global: matmul runs on the pool). */
    public static BinaryTensor pack(BinaryQuantized q, Arena arena) {
        int rows = q.rows(), cols = q.cols(), bits = BinaryLayout.stateBits(q.keptPer8(), q.regions());
        long signRow = BinaryLayout.signBytesPerRow(cols), stateRow = BinaryLayout.stateBytesPerRow(cols, bits);
        MemorySegment signs = arena.allocate(rows * signRow, 64);
        MemorySegment states = arena.allocate(rows * stateRow, 64);
        MemorySegment params = arena.allocate(2L * q.params().length, 64);
        MemorySegment salient = arena.allocate(BinaryLayout.salientBytes(cols), 64);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                if (q.signs()[i] != 0) setBits(signs, r * signRow, c, 1, 1);
                setBits(states, r * stateRow, c, bits, q.states()[i]);
            }
        }
        for (int c = 0; c < cols; c++) if (q.salient()[c]) setBits(salient, 0, c, 1, 1);
        for (int i = 0; i < q.params().length; i++) params.setAtIndex(PackedCodes.I16, i, Float.floatToFloat16(q.params()[i]));
        return new BinaryTensor(rows, cols, q.keptPer8(), q.regions(), signs, states, params, salient);
    }

    /** ORs {@code value} ({@code bits} wide) into column {@code c} of the plane row starting at {@code base}. */
    private static void setBits(MemorySegment plane, long base, int c, int bits, int value) {
        long byteOff = base + (long) c * bits / 8;
        int shift = c * bits % 8;
        byte old = plane.get(java.lang.foreign.ValueLayout.JAVA_BYTE, byteOff);
        plane.set(java.lang.foreign.ValueLayout.JAVA_BYTE, byteOff, (byte) (old | (value & ((1 << bits) - 1)) << shift));
    }

    private static int getBits(MemorySegment plane, long base, int c, int bits) {
        int b = plane.get(java.lang.foreign.ValueLayout.JAVA_BYTE, base + (long) c * bits / 8);
        return (b >>> (c * bits % 8)) & ((1 << bits) - 1);
    }

    /** The weights as row-major floats, decoded as the kernels decode them. For tests and fallbacks only. */
    public float[] dequantize() {
        return unpack().dequantizeAll();
    }

    /** The stored planes read back as a {@link BinaryQuantized}. */
    public BinaryQuantized unpack() {
        int bits = BinaryLayout.stateBits(keptPer8, regions);
        long signRow = BinaryLayout.signBytesPerRow(cols), stateRow = BinaryLayout.stateBytesPerRow(cols, bits);
        byte[] s = new byte[rows * cols], st = new byte[rows * cols];
        boolean[] sal = new boolean[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                s[r * cols + c] = (byte) getBits(signs, r * signRow, c, 1);
                st[r * cols + c] = (byte) getBits(states, r * stateRow, c, bits);
            }
        }
        for (int c = 0; c < cols; c++) sal[c] = getBits(salient, 0, c, 1) != 0;
        float[] p = new float[(int) (params.byteSize() / 2)];
        for (int i = 0; i < p.length; i++) p[i] = Float.float16ToFloat(params.getAtIndex(PackedCodes.I16, i));
        return new BinaryQuantized(rows, cols, keptPer8, regions, sal, s, st, p);
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

    /** Kept weights per 8 consecutive columns of a row (8 = dense). */
    public int keptPer8() {
        return keptPer8;
    }

    /** Non-salient regions per row and block: 2 (BiLLM) or 3 (STBLLM). */
    public int regions() {
        return regions;
    }

    public MemorySegment signs() {
        return signs;
    }

    public MemorySegment states() {
        return states;
    }

    public MemorySegment params() {
        return params;
    }

    public MemorySegment salient() {
        return salient;
    }

    /** True stored bits per weight ({@link BinaryLayout#bitsPerWeight}). */
    public double bitsPerWeight() {
        return BinaryLayout.bitsPerWeight(rows, cols, keptPer8, regions);
    }

    @Override
    public long byteSize() {
        return signs.byteSize() + states.byteSize() + params.byteSize() + salient.byteSize();
    }

    @Override
    public void matmul(float[] x, float[] y, int n) {
        if (n <= 0 || x.length < (long) n * cols || y.length < (long) n * rows) {
            throw new IllegalArgumentException("matmul of " + this + " with " + n + " rows: x holds " + x.length + " floats, y holds " + y.length);
        }
        int stride = (int) PackedCodes.paddedCols(cols);
        float[] xs = new float[n * stride];
        for (int t = 0; t < n; t++) System.arraycopy(x, t * cols, xs, t * stride, cols);
        if (n == 1) {
            Parallel.forRange(rows, GEMV_MIN_ROWS, (start, end) -> {
                for (int r = start; r < end; r++) y[r] = kernel.dot1(r, xs, 0);
            });
            return;
        }
        RowDots.gemm(kernel, rows, byteSize() / rows, xs, stride, y, n);
    }

    boolean vectorKernel() {
        return kernel.vector;
    }

    @Override
    public String storage() {
        return BinaryLayout.NAME + " " + (BinaryLayout.pruned(keptPer8) ? keptPer8 + ":8" : "dense") + " " + regions + "-region";
    }

    @Override
    public String toString() {
        return "BinaryTensor[" + rows + "x" + cols + " " + storage() + "]";
    }
}
