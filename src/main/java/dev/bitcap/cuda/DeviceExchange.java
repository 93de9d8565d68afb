package dev.bitcap.cuda;

/**
 * The all-to-all and all-gather of device buffers of floats that expert parallelism with token dispatch needs (see
 * {@link dev.bitcap.engine.ExchangePlan}); how the floats travel (staged through the host over TCP, or NCCL on the
 * device) is the implementation's business. Every rank makes the same calls in the same order; counts are in floats.
 */
public interface DeviceExchange {
    /**
     * Sends {@code sendCounts[r]} floats to rank r, laid out at {@code send} by destination rank, and receives
     * {@code receiveCounts[s]} floats from rank s, laid out at {@code receive} by source rank.
     */
    void allToAll(long send, long[] sendCounts, long receive, long[] receiveCounts);

    /** {@code count} floats at every rank's {@code own}, concatenated in rank order at {@code all}. */
    void allGather(long own, long all, long count);
}
