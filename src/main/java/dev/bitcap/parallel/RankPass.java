package dev.bitcap.parallel;

import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvCache;
import java.util.List;

/**
 * One rank's forward pass over its shard, on whatever device the rank runs: {@link RankForward} on the CPU,
 * {@link CudaRankPass} on a GPU. Every rank makes the same calls in the same order.
 */
interface RankPass extends AutoCloseable {
    /** A sequence whose cache holds this rank's KV heads. */
    Sequence newSequence(int capacity);

    RankForward.Result forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits, boolean wantLogits);

    /** Frees a cache whose sequence the caller let go (the CPU's caches are the garbage collector's). */
    default void release(KvCache cache) {}

    @Override
    default void close() {}
}
