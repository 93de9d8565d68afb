package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.tensor.Parallel;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Block-sparse attention of a layer: a {@link BlockScorer} ranks each row's key blocks, a {@link BlockSelection}
 * keeps some (always the first and the diagonal/current one), and {@link BlockSparseAttention} visits only those.
 * A run of several tokens is prefill (rows = query blocks, one list per query head); a run of one token is
 * decode (one list per KV head, shared by its query heads). The cache may be the f32 one or a paged fp16 / int4 / int2
 * one (read in place by {@link PackedAttention}, decoding only the positions some head of a group visits). Counts the
 * blocks visited against the causal blocks there were, so callers can report the density actually reached.
 */
public final class SeerAttention implements LayerAttention {
    private final int heads;
    private final int kvHeads;
    private final int qDim;
    private final int block;
    private final BlockScorer scorer;
    private final BlockSelection selection;
    private final BlockSparseAttention kernel;
    /** The paged caches' kernel, restricted to the chosen blocks. */
    private final PackedAttention packed;
    private final ThreadLocal<PackedAttention.Scratch> packedScratch = ThreadLocal.withInitial(PackedAttention.Scratch::new);
    private final LongAdder visitedBlocks = new LongAdder();
    private final LongAdder causalBlocks = new LongAdder();
    private final ThreadLocal<float[]> scores = ThreadLocal.withInitial(() -> new float[0]);

    public SeerAttention(int heads, int kvHeads, int headDim, int block, BlockScorer scorer, BlockSelection selection) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.qDim = heads * headDim;
        this.block = block;
        this.scorer = scorer;
        this.selection = selection;
        this.kernel = new BlockSparseAttention(heads, kvHeads, headDim, block);
        this.packed = new PackedAttention(heads, kvHeads, headDim);
    }

    public int block() {
        return block;
    }

    /** Visited key blocks over causal key blocks, summed over every row, head and layer so far (NaN before any). */
    public double achievedDensity() {
        long all = causalBlocks.sum();
        return all == 0 ? Double.NaN : (double) visitedBlocks.sum() / all;
    }

    @Override
    public void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {
        scorer.prepare(layer, runs, q, k);
    }

    @Override
    public void attend(int layer, List<TokenRun> runs, float[] q, float[] out) {
        for (TokenRun run : runs) {
            if (!(run.cache() instanceof F32KvCache) && !(run.cache() instanceof PagedKvCache)) {
                throw new BitcapException("--attention with blocks reads an f32 or a paged KV cache, not " + run.cache().format());
            }
            if (run.count() == 1) decode(layer, run, q, out);
            else if (run.cache() instanceof F32KvCache cache) prefill(layer, run, cache, q, out);
            else prefillPaged(layer, run, (PagedKvCache) run.cache(), q, out);
        }
    }

    /** Prefill over a paged (fp16 / low-bit) cache: per position and KV head, the group's heads over their own lists. */
    private void prefillPaged(int layer, TokenRun run, PagedKvCache cache, float[] q, float[] out) {
        int b0 = run.start() / block, b1 = run.last() / block, group = heads / kvHeads;
        double[][][] s = scorer.prefill(layer, run, cache, q);
        int[][][] lists = new int[b1 - b0 + 1][heads][];
        int[][] counts = new int[b1 - b0 + 1][heads];
        Parallel.forRange((b1 - b0 + 1) * heads, 1, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int i = b0 + idx / heads, h = idx % heads;
                int[] list = new int[i + 1];
                counts[idx / heads][h] = select(s[idx / heads][h], i + 1, 1, list);
                lists[idx / heads][h] = list;
            }
        });
        Parallel.forRange(run.count() * kvHeads, 1, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int p = run.start() + idx / kvHeads, g = idx % kvHeads, i = p / block - b0;
                int row = (run.first() + p - run.start()) * qDim;
                int[][] groupLists = java.util.Arrays.copyOfRange(lists[i], g * group, (g + 1) * group);
                int[] groupCounts = java.util.Arrays.copyOfRange(counts[i], g * group, (g + 1) * group);
                packed.attendGroupSparse(cache, layer, p, g, q, row, out, row, packedScratch.get(), block, groupLists, groupCounts);
            }
        });
    }

    private void prefill(int layer, TokenRun run, F32KvCache cache, float[] q, float[] out) {
        int b0 = run.start() / block, b1 = run.last() / block;
        double[][][] s = scorer.prefill(layer, run, cache, q);
        Parallel.forRange((b1 - b0 + 1) * heads, 1, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int i = b0 + idx / heads, h = idx % heads;
                int[] list = new int[i + 1];
                int count = select(s[idx / heads][h], i + 1, 1, list);
                int p0 = Math.max(run.start(), i * block), p1 = Math.min(run.last(), (i + 1) * block - 1);
                for (int p = p0; p <= p1; p++) {
                    int row = (run.first() + p - run.start()) * qDim;
                    kernel.attendHead(cache, layer, p, h, list, count, q, row, out, row, scratch(p + 1));
                }
            }
        });
    }

    /** Decode: one list per KV head, shared by its query heads, over the f32 cache or (read in place) a paged one. */
    private void decode(int layer, TokenRun run, float[] q, float[] out) {
        int p = run.start(), n = p / block + 1, group = heads / kvHeads, row = run.first() * qDim;
        double[][] s = scorer.decode(layer, run, run.cache(), q);
        Parallel.forRange(kvHeads, 1, (from, to) -> {
            for (int g = from; g < to; g++) {
                int[] list = new int[n];
                int count = select(s[g], n, group, list);
                if (run.cache() instanceof F32KvCache cache) {
                    for (int h = g * group; h < (g + 1) * group; h++) kernel.attendHead(cache, layer, p, h, list, count, q, row, out, row, scratch(p + 1));
                } else {
                    int[][] lists = new int[group][];
                    int[] counts = new int[group];
                    java.util.Arrays.fill(lists, list);
                    java.util.Arrays.fill(counts, count);
                    packed.attendGroupSparse((PagedKvCache) run.cache(), layer, p, g, q, row, out, row, packedScratch.get(), block, lists, counts);
                }
            }
        });
    }

    /** The blocks a row of n causal blocks keeps, into {@code into}; counted for the {@code heads} query heads that read them. */
    private int select(double[] scores, int n, int heads, int[] into) {
        int count = selection.select(scores, n, into);
        visitedBlocks.add((long) count * heads);
        causalBlocks.add((long) n * heads);
        return count;
    }

    private float[] scratch(int len) {
        float[] s = scores.get();
        if (s.length < len) {
            s = new float[Math.max(len, s.length * 2)];
            scores.set(s);
        }
        return s;
    }
}
