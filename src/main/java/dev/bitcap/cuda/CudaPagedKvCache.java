package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KvCache;
import java.util.Arrays;

/**
 * One sequence's keys and values in fp16 or low-bit pages of a {@link CudaKvPool}, found through its page table,
 * plus an fp32 ring of one block per layer on the device for the newest positions (fewer than a block) that are
 * not packed yet. Positions of a layer are appended in order ({@link CudaPagedAttention#append}).
 */
public final class CudaPagedKvCache implements KvCache {
    private final CudaPagedAttention attention;
    private final CudaKvPool pool;
    private final CudaKvLayout layout;
    private final int capacity;
    private final int[] length;
    private int[] table = new int[4];
    private int pages;
    /** Device fp32 ring: keys [layer][blockTokens][kvDim], then values the same. */
    final long ring;
    private boolean released;

    CudaPagedKvCache(CudaPagedAttention attention, CudaKvPool pool, int capacity) {
        this.attention = attention;
        this.pool = pool;
        this.layout = pool.layout();
        this.capacity = capacity;
        this.length = new int[layout.layers()];
        this.ring = attention.device().alloc(layout.ringBytes());
    }

    CudaKvPool pool() {
        return pool;
    }

    public CudaKvLayout layout() {
        return layout;
    }

    /** Takes the pages {@code positions} positions need from the pool; a one-line error with the numbers when it is short. */
    public void reserve(int positions) {
        if (positions > capacity) throw new BitcapException("position " + (positions - 1) + " is outside the KV cache of " + capacity + " positions");
        int needed = (positions + CudaKvLayout.PAGE_TOKENS - 1) / CudaKvLayout.PAGE_TOKENS - pages;
        if (needed <= 0) return;
        int[] got = pool.acquire(needed, positions, pages);
        if (pages + needed > table.length) table = Arrays.copyOf(table, Math.max(2 * table.length, pages + needed));
        System.arraycopy(got, 0, table, pages, needed);
        pages += needed;
    }

    int[] table() {
        return table;
    }

    public int pagesHeld() {
        return pages;
    }

    /** Device address of the page holding {@code position} (reserved). */
    long pageAddress(int position) {
        return pool.pageAddress(table[position / CudaKvLayout.PAGE_TOKENS]);
    }

    /** Byte offset of that page from the pool's base (for host copies of the pool). */
    long pageOffset(int position) {
        return pageAddress(position) - pool.base();
    }

    public int length(int layer) {
        return length[layer];
    }

    void setLength(int layer, int positions) {
        length[layer] = positions;
    }

    /** Positions of {@code layer} in pages; the rest, up to {@link #length}, are in the ring. */
    public int packedLength(int layer) {
        return length[layer] / layout.blockTokens() * layout.blockTokens();
    }

    long ringKeys(int layer) {
        return ring + 4L * layer * layout.blockTokens() * layout.kvHeads() * layout.headDim();
    }

    long ringValues(int layer) {
        return ring + layout.ringBytes() / 2 + 4L * layer * layout.blockTokens() * layout.kvHeads() * layout.headDim();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int layers() {
        return layout.layers();
    }

    @Override
    public void append(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        if (position != length[layer]) {
            throw new IllegalStateException("layer " + layer + " holds " + length[layer] + " positions; position " + position + " appended out of order");
        }
        attention.appendRow(this, layer, k, kOff, v, vOff);
    }

    @Override
    public long bytesAllocated() {
        return pages * layout.pageBytes() + layout.ringBytes();
    }

    @Override
    public long bytesFor(int positions) {
        int packed = positions / layout.blockTokens() * layout.blockTokens();
        return (long) (layout.bytesPerToken() * packed) + 2L * (positions - packed) * layout.layers() * layout.kvHeads() * layout.headDim() * 4;
    }

    @Override
    public String format() {
        return layout.spec().format().flagName();
    }

    @Override
    public synchronized void release() {
        if (released) return;
        released = true;
        pool.release(table, pages);
        pages = 0;
        attention.device().free(ring);
    }
}
