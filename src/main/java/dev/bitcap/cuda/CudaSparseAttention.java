package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import java.util.List;

/**
 * Causal prefill attention on tensor cores ({@code flash_prefill.cu}): fp16 or bf16 Q, K, V, fp32 output, dense
 * (every causal key block) or block-sparse (a list of key blocks per query head and query block of
 * {@value #BLOCK} positions, as {@link CudaSeerGate} writes them). Query heads read their KV head directly (GQA).
 * The kernel is one of {@link Kernel}; every one reads the same lists and writes the same output.
 */
public final class CudaSparseAttention {
    /** Positions per query and key block; the gate's block size must match. */
    public static final int BLOCK = 64;

    /**
     * Which prefill kernel runs: {@code BASE} (flash_prefill.cu, the first kernel), or one of flash_prefill2.cu (same
     * arguments and results): {@code WIDE}, 32 query rows a warp (2 warps a block, 4 blocks an SM) so each K/V fragment
     * feeds twice the mma; {@code SWIZZLED}, 16 rows a warp as BASE but with the XOR-swizzled single K/V buffers and
     * FA2's load order. {@link #DEFAULT} is SWIZZLED: every check row of all three passed on the H200 (2026-12-02) and
     * SWIZZLED was the fastest dense kernel at 8K and 32K and within 1 % of WIDE at 128K (docs/PERFORMANCE.md).
     */
    public enum Kernel {
        BASE("flash_prefill", 128, 0), WIDE("flash_prefill_v2", 64, 32), SWIZZLED("flash_prefill_v2", 128, 16);

        public static final Kernel DEFAULT = SWIZZLED;

        final String function;
        final int threads, warpRows;

        Kernel(String function, int threads, int warpRows) {
            this.function = function;
            this.threads = threads;
            this.warpRows = warpRows;
        }

        /** The kernel by name (any case): base, wide or swizzled; anything else is a one-line error naming them. */
        public static Kernel parse(String name) {
            for (Kernel k : values()) if (k.name().equalsIgnoreCase(name.strip())) return k;
            throw new BitcapException("prefill kernel must be base, wide or swizzled, not '" + name + "'");
        }

        /** Shared memory a block takes: BASE a padded query tile and two K and V buffers, the others three swizzled tiles. */
        int smem(int headDim) {
            return this == BASE ? 5 * BLOCK * (headDim + 8) * 2 : 3 * BLOCK * headDim * 2;
        }
    }

    private final CudaDevice device;
    private final CudaModule module;
    private final CudaModule kernelModule;
    private final Kernel kernel;
    private final int headDim;
    private final int smem;
    private final float scaleLog2;

    public CudaSparseAttention(CudaDevice device, int headDim, boolean bf16) {
        this(device, headDim, bf16, Kernel.DEFAULT);
    }

    public CudaSparseAttention(CudaDevice device, int headDim, boolean bf16, Kernel kernel) {
        if (headDim != 64 && headDim != 128) throw new BitcapException("tensor-core prefill attention runs head dim 64 or 128, not " + headDim);
        this.device = device;
        this.headDim = headDim;
        this.kernel = kernel;
        this.module = device.module("flash_prefill.cu", List.of("HEAD_DIM=" + headDim, "BF16=" + (bf16 ? 1 : 0)));
        this.kernelModule = kernel == Kernel.BASE ? module
                : device.module("flash_prefill2.cu", List.of("HEAD_DIM=" + headDim, "BF16=" + (bf16 ? 1 : 0), "WARP_ROWS=" + kernel.warpRows));
        this.smem = kernel.smem(headDim);
        this.scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2));
        kernelModule.setMaxDynamicSharedMemory(kernel.function, smem);
    }

    public Kernel kernel() {
        return kernel;
    }

    public int headDim() {
        return headDim;
    }

    /** Query (and key) blocks of a sequence of {@code len} positions. */
    public static int blocks(int len) {
        return (len + BLOCK - 1) / BLOCK;
    }

    /** Ints a list buffer needs: room for every causal block of every query block and head. */
    public static long listInts(int len, int heads) {
        long nb = blocks(len);
        return heads * nb * (nb + 1) / 2;
    }

    /**
     * out = causal attention of q over k, v for positions 0..len-1. {@code counts == 0}: dense; otherwise the
     * block lists (see flash_prefill.cu). Strides are in elements between consecutive positions.
     */
    public void prefill(long q, long k, long v, long out, long counts, long lists, int len, int heads, int kvHeads,
                        long qStride, long kvStride, long outStride) {
        if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads do not split into " + kvHeads + " KV heads");
        kernelModule.launch(kernel.function).ptr(q).ptr(k).ptr(v).ptr(out).ptr(counts).ptr(lists).i(len).i(heads).i(kvHeads)
                .l(qStride).l(kvStride).l(outStride).f(scaleLog2).run(heads, blocks(len), 1, kernel.threads, smem);
    }

    /** dst (fp16/bf16, {@code width} per row, packed) = rows of fp32 src, {@code srcStride} floats apart. */
    public void toHalf(long src, long dst, int rows, int width, long srcStride) {
        long pairs = (long) rows * width / 2;
        module.launch("to_half_rows").ptr(src).ptr(dst).i(rows).i(width).l(srcStride).run((int) ((pairs + 255) / 256), 1, 1, 256, 0);
    }

    /** Fills n halves at dst with pseudo-random values of about unit size (benchmark inputs). */
    public void fillRandom(long dst, long n, int seed) {
        module.launch("fill_random").ptr(dst).l(n).i(seed).run((int) ((n / 2 + 255) / 256), 1, 1, 256, 0);
    }
}
