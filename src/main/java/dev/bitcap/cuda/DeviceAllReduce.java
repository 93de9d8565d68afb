package dev.bitcap.cuda;

/**
 * Sums a device buffer of floats over the ranks of a split model, in place, so that every rank holds the same bits.
 * The CUDA rank forward calls it after the attention output projection and after the MLP/MoE down projections; how
 * the sum travels (staged through the host over TCP, or NCCL on the device) is the implementation's business.
 */
@FunctionalInterface
public interface DeviceAllReduce {
    /** Replaces {@code count} floats at device address {@code pointer} with their sum over all ranks. */
    void allReduceSum(long pointer, long count);
}
