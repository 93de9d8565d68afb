package dev.bitcap.cuda;

import java.util.List;

/**
 * Causal attention of a pass's query tokens over their sequences' fp32 KV caches ({@code attention.cu}). When
 * the queries alone cannot fill the GPU (decode), the context is split between several blocks per query head
 * (split-K) and the partial results are merged by a second kernel.
 */
public final class CudaAttention {
    private final CudaDevice device;
    private final CudaModule module;
    private final int heads, kvHeads, headDim, layers;
    private final float scale;
    private long partial, stats, partialFloats;
    private int buffersVersion;
    private boolean prefillReady;

    public CudaAttention(CudaDevice device, int heads, int kvHeads, int headDim, int layers) {
        if (headDim % 2 != 0 || headDim > 1024) throw new dev.bitcap.BitcapException("the CUDA backend cannot run head dim " + headDim);
        this.device = device;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.layers = layers;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.module = device.module("attention.cu", List.of("HEAD_DIM=" + headDim));
    }

    /**
     * How many ranges to split a context of {@code maxLength} positions into, for {@code queries} query tokens:
     * enough blocks for about four per multiprocessor, each range at least 256 positions.
     */
    static int splits(int queries, int heads, int maxLength, int multiprocessors) {
        long blocks = (long) queries * heads;
        long target = 4L * multiprocessors;
        if (blocks >= target) return 1;
        int byWork = (int) ((target + blocks - 1) / blocks);
        int byLength = Math.max(1, (maxLength + 255) / 256);
        return Math.max(1, Math.min(byWork, byLength));
    }

    /** Query rows of one prefill block (4 warps x rows per warp, as attention.cu's PREFILL_ROWS). */
    private int prefillRows() {
        return 4 * (headDim <= 128 ? 16 : 8);
    }

    /** Consecutive tokens of one sequence per prefill block (0: the group of query heads is too large for a block). */
    public int prefillTileTokens() {
        int group = heads / kvHeads;
        return group > prefillRows() || headDim % 4 != 0 ? 0 : prefillRows() / group;
    }

    /**
     * Causal attention for query tiles (pairs of first token and count in {@code tiles}): each block stages key and
     * value tiles in shared memory once for all query heads of one KV head and all tokens of its tile.
     */
    public void prefill(long q, long kBase, long vBase, long positions, long tiles, long att, int tileCount, int layer) {
        int rows = prefillRows();
        int smem = 4 * (rows * headDim + 32 * (headDim + 4) + 32 * headDim + rows * 32);
        if (!prefillReady) {
            module.setMaxDynamicSharedMemory("attend_prefill", smem);
            prefillReady = true;
        }
        module.launch("attend_prefill").ptr(q).ptr(kBase).ptr(vBase).ptr(positions).ptr(tiles).ptr(att)
                .i(heads).i(kvHeads).i(layers).i(layer).f(scale).run(tileCount, kvHeads, 1, 128, smem);
    }

    /** Changes whenever the split buffers are reallocated (captured graphs hold their addresses). */
    public int buffersVersion() {
        return buffersVersion;
    }

    /** Query heads per KV head that attend_gqa takes in one block (GQA_MAX in attention.cu). */
    static final int GQA_MAX = 8;
    /** The fewest positions attend_gqa gives one block (the context split into ranges of at least this). */
    static final int GQA_MIN_CHUNK = 64;

    /** Whether decode runs attend_gqa (query heads of one KV head per block) rather than attend. */
    boolean groupsHeads() {
        return heads % kvHeads == 0 && heads / kvHeads <= GQA_MAX;
    }

    /**
     * Ranges for attend_gqa: enough blocks (KV heads x queries x ranges) for about four per multiprocessor, at most
     * one range per {@link #GQA_MIN_CHUNK} positions of {@code maxLength}.
     */
    static int gqaSplits(int queries, int kvHeads, int maxLength, int multiprocessors) {
        long blocks = (long) queries * kvHeads;
        long target = 4L * multiprocessors;
        if (blocks >= target) return 1;
        int byWork = (int) ((target + blocks - 1) / blocks);
        int byLength = Math.max(1, (maxLength + GQA_MIN_CHUNK - 1) / GQA_MIN_CHUNK);
        return Math.max(1, Math.min(byWork, byLength));
    }

    /**
     * att [n, heads*headDim] = attention of q [n, heads*headDim] at the given positions, layer {@code layer}; contexts
     * up to {@code maxLength} (the split count is fixed by it, each token's ranges by its own length: attend_gqa).
     */
    public void run(long q, long kBase, long vBase, long positions, long att, int n, int maxLength, int layer) {
        if (groupsHeads()) {
            int splits = gqaSplits(n, kvHeads, maxLength, device.multiprocessors());
            if (splits > 1) splitBuffers((long) n * heads * splits * headDim);
            module.launch("attend_gqa").ptr(q).ptr(kBase).ptr(vBase).ptr(positions).ptr(att).ptr(partial).ptr(stats)
                    .i(heads).i(kvHeads).i(layers).i(layer).i(GQA_MIN_CHUNK).f(scale).run(kvHeads, n, splits, 128, 0);
            if (splits > 1) {
                module.launch("attend_combine").ptr(partial).ptr(stats).ptr(att).i(heads).i(splits).run(heads, n, 1, 128, 0);
            }
            return;
        }
        runPerHead(q, kBase, vBase, positions, att, n, maxLength, layer);
    }

    /** attend: one block per query head and range (any group size; the check compares it with attend_gqa). */
    void runPerHead(long q, long kBase, long vBase, long positions, long att, int n, int maxLength, int layer) {
        int splits = splits(n, heads, maxLength, device.multiprocessors());
        int chunk = (maxLength + splits - 1) / splits;
        if (splits > 1) splitBuffers((long) n * heads * splits * headDim);
        module.launch("attend").ptr(q).ptr(kBase).ptr(vBase).ptr(positions).ptr(att).ptr(partial).ptr(stats)
                .i(heads).i(kvHeads).i(layers).i(layer).i(chunk).f(scale).run(heads, n, splits, 128, 0);
        if (splits > 1) {
            module.launch("attend_combine").ptr(partial).ptr(stats).ptr(att).i(heads).i(splits).run(heads, n, 1, 128, 0);
        }
    }

    /** Grows the split-K scratch to {@code need} floats of partial sums (and their statistics). */
    private void splitBuffers(long need) {
        if (partialFloats < need) {
            if (partial != 0) {
                device.free(partial);
                device.free(stats);
            }
            partialFloats = Math.max(need, 2 * partialFloats);
            partial = device.alloc(4 * partialFloats);
            buffersVersion++;
            stats = device.alloc(4 * 2 * partialFloats / headDim);
        }
    }
}
