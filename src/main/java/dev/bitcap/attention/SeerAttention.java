package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.tensor.Parallel;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Block-sparse attention of a layer: a {@link BlockScorer} ranks each row's key blocks, a {@link BlockSelection}
 * keeps some (always the first and the diagonal/current one), and {@link BlockSparseAttention} visits only those.
 * A run of several tokens is prefill (rows = query blocks, one list per query head); a run of one token is
 * decode (one list per KV head, shared by its query heads). Counts the blocks visited against the causal blocks
 * there were, so callers can report the density actually reached.
 */
public final class SeerAttention implements LayerAttention {
    private final int heads;
    private final int kvHeads;
    private final int qDim;
    private final int block;
    private final BlockScorer scorer;
    private final BlockSelection selection;
    private final BlockSparseAttention kernel;
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
            if (!(run.cache() instanceof F32KvCache cache)) {
                throw new BitcapException("--attention seer reads an f32 KV cache; the " + run.cache().format() + " cache is not supported with it");
            }
            if (run.count() == 1) {
                decode(layer, run, cache, q, out);
            } else {
                prefill(layer, run, cache, q, out);
            }
        }
    }

    private void prefill(int layer, TokenRun run, F32KvCache cache, float[] q, float[] out) {
        int b0 = run.start() / block, b1 = run.last() / block;
        double[][][] s = scorer.prefill(layer, run, cache, q);
        Parallel.forRange((b1 - b0 + 1) * heads, 1, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int i = b0 + idx / heads, h = idx % heads;
                int[] list = new int[i + 1];
                int count = selection.select(s[idx / heads][h], i + 1, list);
                visitedBlocks.add(count);
                causalBlocks.add(i + 1);
                int p0 = Math.max(run.start(), i * block), p1 = Math.min(run.last(), (i + 1) * block - 1);
                for (int p = p0; p <= p1; p++) {
                    int row = (run.first() + p - run.start()) * qDim;
                    kernel.attendHead(cache, layer, p, h, list, count, q, row, out, row, scratch(p + 1));
                }
            }
        });
    }

    private void decode(int layer, TokenRun run, F32KvCache cache, float[] q, float[] out) {
        int p = run.start(), n = p / block + 1, group = heads / kvHeads, row = run.first() * qDim;
        double[][] s = scorer.decode(layer, run, cache, q);
        Parallel.forRange(kvHeads, 1, (from, to) -> {
            for (int g = from; g < to; g++) {
                int[] list = new int[n];
                int count = selection.select(s[g], n, list);
                visitedBlocks.add((long) count * group);
                causalBlocks.add((long) n * group);
                for (int h = g * group; h < (g + 1) * group; h++) kernel.attendHead(cache, layer, p, h, list, count, q, row, out, row, scratch(p + 1));
            }
        });
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
