package dev.bitcap.cuda;

import dev.bitcap.tensor.DType;
import java.util.List;

/** Launches the row-wise and element-wise kernels of {@code ops.cu} on the device's stream. */
public final class CudaOps {
    private static final int THREADS = 256;
    private final CudaDevice device;
    private CudaModule module;

    public CudaOps(CudaDevice device) {
        this.device = device;
    }

    private CudaModule m() {
        if (module == null) module = device.module("ops.cu", List.of("OPS=1"));
        return module;
    }

    private int blocks(long count) {
        return (int) Math.max(1, Math.min((count + THREADS - 1) / THREADS, 8L * device.multiprocessors()));
    }

    private static int rowThreads(int d) {
        return Math.min(1024, Math.max(32, (d + 31) / 32 * 32));
    }

    /** dtype codes of the embed kernel. */
    static int tableType(DType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            case Q8_0 -> 3;
            case Q4_0 -> 4;
            default -> throw new dev.bitcap.BitcapException("the CUDA backend cannot read a " + t + " embedding table");
        };
    }

    public void embed(DeviceMatrix table, long ids, long x, int n) {
        m().launch("embed").ptr(table.pointer()).i(tableType(table.type())).ptr(ids).ptr(x).i(table.cols()).l(table.rowBytes())
                .run(n, 1, 1, rowThreads(table.cols()), 0);
    }

    /** {@code rows} rows of {@code d}: out[r] = rmsnorm(x[inRows[r]]) (inRows 0: row r itself). */
    public void rmsnorm(long x, long weight, long out, int rows, int d, float eps, long inRows) {
        if (vec4Rows(x, weight, out, d)) {
            rmsnormVec4(x, weight, out, rows, d, eps, inRows);
        } else {
            rmsnormScalar(x, weight, out, rows, d, eps, inRows);
        }
    }

    /** Whether rmsnorm_vec4 can read rows of d floats at these addresses: d a multiple of 4, everything 16-byte aligned. */
    static boolean vec4Rows(long x, long weight, long out, int d) {
        return d % 4 == 0 && ((x | weight | out) & 15) == 0;
    }

    /** rmsnorm_vec4: about d/16 threads, so that each holds four float4s (RMS_HELD in ops.cu). */
    void rmsnormVec4(long x, long weight, long out, int rows, int d, float eps, long inRows) {
        int threads = Math.min(1024, Math.max(32, (d / 16 + 31) / 32 * 32));
        m().launch("rmsnorm_vec4").ptr(x).ptr(weight).ptr(out).i(d).f(eps).ptr(inRows).run(rows, 1, 1, threads, 0);
    }

    /** The one-float-per-thread rmsnorm (any d, any alignment). */
    void rmsnormScalar(long x, long weight, long out, int rows, int d, float eps, long inRows) {
        m().launch("rmsnorm").ptr(x).ptr(weight).ptr(out).i(d).f(eps).ptr(inRows).run(rows, 1, 1, rowThreads(d), 0);
    }

    public void addBias(long x, long bias, int n, int d) {
        m().launch("add_bias").ptr(x).ptr(bias).i(n).i(d).run(blocks((long) n * d), THREADS);
    }

    public void add(long y, long x, long count) {
        m().launch("add").ptr(y).ptr(x).l(count).run(blocks(count), THREADS);
    }

    public void swiglu(long g, long u, long count) {
        m().launch("swiglu").ptr(g).ptr(u).l(count).run(blocks(count), THREADS);
    }

    public void rope(long x, long positions, long invFreq, int n, int heads, int headDim, int rowStride, boolean rotateHalf) {
        m().launch("rope").ptr(x).ptr(positions).ptr(invFreq).i(heads).i(headDim).i(rowStride).i(rotateHalf ? 1 : 0)
                .run(n, heads, 1, Math.min(1024, Math.max(32, headDim / 2)), 0);
    }

    /**
     * rope of q [n, heads*headDim] and k [n, kvHeads*headDim] in place, and with kBase non-zero the rotated keys and the
     * values v stored at their positions of layer {@code layer} of the f32 caches, in one launch (rope twice, then
     * kvAppend, as one kernel).
     */
    public void ropeAppend(long q, long k, long v, long positions, long invFreq, int n, int heads, int kvHeads, int headDim,
                           boolean rotateHalf, long kBase, long vBase, int layers, int layer) {
        m().launch("rope_append").ptr(q).ptr(k).ptr(v).ptr(positions).ptr(invFreq).i(heads).i(kvHeads).i(headDim).i(rotateHalf ? 1 : 0)
                .ptr(kBase).ptr(vBase).i(layers).i(layer).run(n, heads + kvHeads, 1, Math.min(1024, Math.max(32, headDim / 2)), 0);
    }

    public void kvAppend(long k, long v, long kBase, long vBase, long positions, int n, int kvDim, int layers, int layer) {
        m().launch("kv_append").ptr(k).ptr(v).ptr(kBase).ptr(vBase).ptr(positions).i(kvDim).i(layers).i(layer)
                .run(n, 1, 1, rowThreads(kvDim), 0);
    }

    public void gatherRows(long x, long rows, long out, int m, int d) {
        m().launch("gather_rows").ptr(x).ptr(rows).ptr(out).i(d).run(m, 1, 1, rowThreads(d), 0);
    }

    public void scatterAddScaled(long y, long src, long rows, long scale, int m, int d) {
        m().launch("scatter_add_scaled").ptr(y).ptr(src).ptr(rows).ptr(scale).i(d).run(m, 1, 1, rowThreads(d), 0);
    }

    public void sigmoidGate(long w, long x, long gate, int n, int d) {
        m().launch("sigmoid_gate").ptr(w).ptr(x).ptr(gate).i(d).run(n, 1, 1, rowThreads(d), 0);
    }

    /** out[r] (an int) = {@code Ops.argmax} of row r, for {@code rows} rows of {@code vocab} floats: one block per row. */
    public void argmaxRows(long logits, int rows, int vocab, long out) {
        m().launch("argmax_rows").ptr(logits).i(vocab).ptr(out).run(rows, 1, 1, rowThreads(vocab), 0);
    }

    public void to16Bit(long x, long out, long count, DType type) {
        m().launch("to_16bit").ptr(x).ptr(out).l(count).i(type == DType.F16 ? 1 : 2).run(blocks(count), THREADS);
    }
}
