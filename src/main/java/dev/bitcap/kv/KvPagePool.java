package dev.bitcap.kv;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * Fixed-size KV pages shared by many sequences, at most {@code maxPages} of them. Storage comes off-heap in
 * slabs of whole pages, allocated when no free page is left and never moved or freed while the pool lives, so
 * a page keeps its address for as long as a sequence holds it. Pages come back when a sequence's cache is
 * released (or, as a safety net, when it becomes unreachable).
 */
public final class KvPagePool {
    static final Cleaner CLEANER = Cleaner.create();
    private static final long SLAB_BYTES = 64L << 20;

    private final KvLayout layout;
    private final int maxPages;
    private final int slabPages;
    private volatile MemorySegment[] slabs = new MemorySegment[0];
    private int[] free = new int[16];
    private int freeCount;
    private int storedPages;
    private int inUse;

    public KvPagePool(KvLayout layout, int maxPages) {
        if (maxPages < 1) throw new BitcapException("the KV page pool needs at least one page, got " + maxPages);
        this.layout = layout;
        this.maxPages = maxPages;
        this.slabPages = (int) Math.max(1, Math.min(maxPages, SLAB_BYTES / layout.pageBytes()));
    }

    /** A pool of at most {@code bytes} bytes (at least one page). */
    public static KvPagePool ofBytes(KvLayout layout, long bytes) {
        return new KvPagePool(layout, (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / layout.pageBytes())));
    }

    public KvLayout layout() {
        return layout;
    }

    /**
     * {@code count} pages for a sequence that will then hold {@code positions} positions, or a one-line error
     * with the numbers when the pool cannot give them.
     */
    public synchronized int[] acquire(int count, int positions, int pagesHeld) {
        if (count > maxPages - inUse) throw exhausted(positions, count, layout.pageTokens(), layout.pageBytes(), pagesHeld, maxPages - inUse, maxPages);
        int[] ids = new int[count];
        for (int i = 0; i < count; i++) {
            if (freeCount == 0) growSlab();
            ids[i] = free[--freeCount];
        }
        inUse += count;
        return ids;
    }

    /** The one-line refusal of a pool (CPU or GPU) that cannot give a sequence the pages it needs. */
    public static BitcapException exhausted(int positions, int count, int pageTokens, long pageBytes, int pagesHeld, int free, int maxPages) {
        double mib = 1 << 20;
        return new BitcapException(String.format(
                "KV cache pool exhausted: a sequence of %d positions needs %d more pages of %d tokens (%.2f MiB; it holds %d)"
                        + " but %d of %d pages are free (%.2f of %.2f MiB); raise --kv-pool-mb or run fewer or shorter sequences",
                positions, count, pageTokens, count * pageBytes / mib, pagesHeld, free, maxPages, free * pageBytes / mib, maxPages * pageBytes / mib));
    }

    synchronized void release(int[] ids, int count) {
        if (freeCount + count > free.length) free = Arrays.copyOf(free, Math.max(free.length * 2, freeCount + count));
        for (int i = 0; i < count; i++) free[freeCount++] = ids[i];
        inUse -= count;
    }

    private void growSlab() {
        int n = Math.min(slabPages, maxPages - storedPages);
        MemorySegment slab = Arena.ofAuto().allocate(n * layout.pageBytes(), 64);
        MemorySegment[] grown = Arrays.copyOf(slabs, slabs.length + 1);
        grown[slabs.length] = slab;
        slabs = grown;
        if (free.length < freeCount + n) free = Arrays.copyOf(free, Math.max(free.length * 2, freeCount + n));
        // hand out low ids first, so a fresh pool fills its slabs in order
        for (int i = n - 1; i >= 0; i--) free[freeCount++] = storedPages + i;
        storedPages += n;
    }

    /** The slab that holds page {@code page}. */
    public MemorySegment slab(int page) {
        return slabs[page / slabPages];
    }

    /** Offset of page {@code page} inside its slab. */
    public long offset(int page) {
        return (page % slabPages) * layout.pageBytes();
    }

    public int maxPages() {
        return maxPages;
    }

    public synchronized int pagesInUse() {
        return inUse;
    }

    public synchronized int freePages() {
        return maxPages - inUse;
    }

    /** Slabs allocated so far: pages are carved from these and nothing else. */
    public int slabsAllocated() {
        return slabs.length;
    }

    /** Bytes of off-heap storage allocated so far. */
    public synchronized long bytesReserved() {
        return storedPages * layout.pageBytes();
    }
}
