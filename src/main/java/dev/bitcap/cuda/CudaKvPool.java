package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KvPagePool;
import java.util.Arrays;

/**
 * Fixed-size KV pages in device memory shared by every sequence of a backend: one allocation of {@code maxPages}
 * pages made up front, so a page never moves; a free list hands them out. A pool that cannot give a sequence its
 * pages refuses with the numbers, in the same words as the CPU pool.
 */
public final class CudaKvPool implements AutoCloseable {
    private final CudaDevice device;
    private final CudaKvLayout layout;
    private final int maxPages;
    private final long base;
    private final int[] free;
    private int freeCount;

    public CudaKvPool(CudaDevice device, CudaKvLayout layout, long bytes) {
        long pages = bytes / layout.pageBytes();
        if (pages < 1) throw new BitcapException("the KV page pool needs at least one page of " + layout.pageBytes() + " bytes, got " + bytes + " bytes");
        long[] info = device.memoryInfo();
        if (pages * layout.pageBytes() > info[0]) {
            throw new BitcapException(String.format("a KV page pool of %.2f GiB does not fit the %.2f GiB free on %s; lower --kv-pool-mb",
                    pages * layout.pageBytes() / 1073741824.0, info[0] / 1073741824.0, device.name()));
        }
        this.device = device;
        this.layout = layout;
        this.maxPages = (int) Math.min(Integer.MAX_VALUE - 8, pages);
        this.base = device.alloc(maxPages * layout.pageBytes());
        this.free = new int[maxPages];
        for (int i = 0; i < maxPages; i++) free[i] = maxPages - 1 - i; // low ids first
        this.freeCount = maxPages;
    }

    public CudaKvLayout layout() {
        return layout;
    }

    /** Device address of page 0; page i lies {@code i * pageBytes} further. */
    public long base() {
        return base;
    }

    public long pageAddress(int page) {
        return base + page * layout.pageBytes();
    }

    public synchronized int[] acquire(int count, int positions, int pagesHeld) {
        if (count > freeCount) {
            throw KvPagePool.exhausted(positions, count, CudaKvLayout.PAGE_TOKENS, layout.pageBytes(), pagesHeld, freeCount, maxPages);
        }
        int[] ids = Arrays.copyOfRange(free, freeCount - count, freeCount);
        freeCount -= count;
        return ids;
    }

    synchronized void release(int[] ids, int count) {
        for (int i = 0; i < count; i++) free[freeCount++] = ids[i];
    }

    public int maxPages() {
        return maxPages;
    }

    public synchronized int pagesInUse() {
        return maxPages - freeCount;
    }

    public long bytesReserved() {
        return maxPages * layout.pageBytes();
    }

    @Override
    public void close() {
        device.free(base);
    }
}
