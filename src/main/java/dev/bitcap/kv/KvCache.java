package dev.bitcap.kv;

/**
 * The keys and values one sequence has produced, per layer and position. Implementations differ in how they
 * store them (fp32 now; low-bit and paged formats plug in here); attention kernels read the format they know.
 */
public interface KvCache {
    /** Positions this cache can hold. */
    int capacity();

    int layers();

    /** Stores the key and value rows ({@code kvHeads*headDim} floats each) of one position. */
    void append(int layer, int position, float[] k, int kOff, float[] v, int vOff);

    /** Bytes this cache has allocated. */
    long bytesAllocated();

    /** Bytes that {@code positions} positions occupy in this format, over all layers. */
    long bytesFor(int positions);

    /** The format's name, e.g. "f32". */
    String format();

    /** Gives back shared storage (pages of a pool) at once rather than when the cache is collected. */
    default void release() {}
}
