package dev.bitcap.attention;

import dev.bitcap.kv.KvCache;
import java.util.List;

/**
 * Ranks the key blocks of each query row, for {@link BlockSelection} to keep the best. Prefill rows are query
 * blocks and are scored per query head; a decode row is one token and is scored per KV head, so the query heads
 * sharing a KV head read the same blocks. Scores of a row form a distribution over its blocks where a threshold
 * is to apply to them.
 */
public interface BlockScorer {
    /** Sees a layer's Q and K before RoPE (see {@link LayerAttention#prepare}). */
    default void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {}

    /**
     * Scores of the query blocks of a run of several tokens: {@code [i - firstBlock][h][j]} for key blocks
     * {@code j <= i}, where firstBlock is the block of the run's first position. The cache holds the run.
     */
    double[][][] prefill(int layer, TokenRun run, KvCache cache, float[] q);

    /**
     * Scores of a single-token run per KV head: {@code [g][j]} for the completed blocks {@code j < c}, where c is
     * the block of the token's position (always attended); the arrays hold c+1 entries.
     */
    double[][] decode(int layer, TokenRun run, KvCache cache, float[] q);
}
