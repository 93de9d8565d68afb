package dev.bitcap.parallel;

import java.lang.foreign.MemorySegment;

/**
 * The collective operations the ranks of one model need, over buffers of floats. A rank calls every operation in the
 * same order as all the others; a call returns when this rank's part is done. Buffers are {@link MemorySegment}s
 * (heap arrays for the CPU transport, device memory for NCCL); counts are in floats.
 */
public interface Collective extends AutoCloseable {
    int rank();

    int size();

    /** Replaces {@code count} floats of {@code buffer} with their sum over all ranks; every rank gets the same bits. */
    void allReduceSum(MemorySegment buffer, long count);

    /** {@code count} floats of every rank's {@code send}, concatenated in rank order into {@code receive}. */
    void allGather(MemorySegment send, long count, MemorySegment receive);

    /**
     * Every rank sends {@code sendCounts[d]} floats to rank {@code d}, laid out in {@code send} by destination
     * rank, and receives {@code receiveCounts[s]} floats from rank {@code s}, laid out in {@code receive} by source
     * rank. The counts must agree pairwise.
     */
    void allToAll(MemorySegment send, long[] sendCounts, MemorySegment receive, long[] receiveCounts);

    /** {@code count} floats of rank {@code root}'s buffer copied into every rank's. */
    void broadcast(MemorySegment buffer, long count, int root);

    /** Returns once every rank has called it. */
    void barrier();

    default void allReduceSum(float[] buffer) {
        allReduceSum(MemorySegment.ofArray(buffer), buffer.length);
    }

    default void allGather(float[] send, float[] receive) {
        allGather(MemorySegment.ofArray(send), send.length, MemorySegment.ofArray(receive));
    }

    default void allToAll(float[] send, long[] sendCounts, float[] receive, long[] receiveCounts) {
        allToAll(MemorySegment.ofArray(send), sendCounts, MemorySegment.ofArray(receive), receiveCounts);
    }

    @Override
    void close();
}
