package dev.bitcap.kv;

import dev.bitcap.BitcapException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * One sequence's keys and values in fp16 or low-bit pages from a shared {@link KvPagePool}, found through the
 * sequence's page table. Quantized formats keep the newest positions (fewer than g per layer) in an fp32
 * residual block; when a layer's block fills, it is quantized and packed in place into the page slots for
 * those positions, which were taken from the pool when the positions were reserved. Layout: {@link KvLayout}.
 * Positions of a layer must be appended in order.
 */
public final class PagedKvCache implements KvCache {
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** The page table, apart from the cache so that the cleaner can return the pages without keeping it alive. */
    private static final class PageTable implements Runnable {
        final KvPagePool pool;
        int[] ids = new int[4];
        int count;

        PageTable(KvPagePool pool) {
            this.pool = pool;
        }

        @Override
        public synchronized void run() {
            pool.release(ids, count);
            count = 0;
        }
    }

    private final KvLayout layout;
    private final KvPagePool pool;
    private final int capacity;
    private final int kvDim;
    private final PageTable table;
    private final java.lang.ref.Cleaner.Cleanable cleanable;
    private final int[] length;
    private final float[][] residualKeys;
    private final float[][] residualValues;

    public PagedKvCache(KvPagePool pool, int capacity) {
        this.layout = pool.layout();
        this.pool = pool;
        this.capacity = capacity;
        this.kvDim = layout.kvHeads() * layout.headDim();
        this.table = new PageTable(pool);
        this.cleanable = KvPagePool.CLEANER.register(this, table);
        this.length = new int[layout.layers()];
        boolean quantized = layout.spec().format().quantized();
        int residual = quantized ? layout.group() * kvDim : 0;
        this.residualKeys = new float[layout.layers()][residual];
        this.residualValues = new float[layout.layers()][residual];
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int layers() {
        return layout.layers();
    }

    public KvLayout layout() {
        return layout;
    }

    /**
     * Takes from the pool the pages that {@code positions} positions need, before a pass writes them; a one-line
     * error with the numbers when the pool is short (nothing is taken then).
     */
    public void reserve(int positions) {
        if (positions > capacity) {
            throw new BitcapException("position " + (positions - 1) + " is outside the KV cache of " + capacity + " positions");
        }
        synchronized (table) {
            int needed = (positions + layout.pageTokens() - 1) / layout.pageTokens() - table.count;
            if (needed <= 0) return;
            int[] got = pool.acquire(needed, positions, table.count);
            if (table.count + needed > table.ids.length) table.ids = Arrays.copyOf(table.ids, Math.max(table.ids.length * 2, table.count + needed));
            System.arraycopy(got, 0, table.ids, table.count, needed);
            table.count += needed;
        }
    }

    /** Pages this sequence holds. */
    public int pagesHeld() {
        synchronized (table) {
            return table.count;
        }
    }

    /** Page id of the page holding {@code position} (reserved). */
    public int page(int position) {
        return table.ids[position / layout.pageTokens()];
    }

    /** The slab holding {@code position}; with {@link #pageBase} the address of its page. */
    public MemorySegment segment(int position) {
        return pool.slab(page(position));
    }

    public long pageBase(int position) {
        return pool.offset(page(position));
    }

    @Override
    public void append(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        if (position != length[layer]) {
            throw new IllegalStateException("layer " + layer + " holds " + length[layer] + " positions; position " + position + " appended out of order");
        }
        reserve(position + 1);
        if (layout.spec().format() == KvFormat.FP16) {
            writeHalf(layer, position, k, kOff, v, vOff);
        } else {
            int slot = position % layout.group();
            System.arraycopy(k, kOff, residualKeys[layer], slot * kvDim, kvDim);
            System.arraycopy(v, vOff, residualValues[layer], slot * kvDim, kvDim);
            if (slot == layout.group() - 1) flush(layer, position - slot);
        }
        length[layer] = position + 1;
    }

    private void writeHalf(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        MemorySegment seg = segment(position);
        long base = pageBase(position);
        int t = position % layout.pageTokens(), hd = layout.headDim();
        for (int h = 0; h < layout.kvHeads(); h++) {
            long region = base + layout.region(layer, h);
            for (int c = 0; c < hd; c++) {
                seg.set(HALF, region + layout.halfKey(t) + 2L * c, Float.floatToFloat16(k[kOff + h * hd + c]));
                seg.set(HALF, region + layout.halfValue(t) + 2L * c, Float.floatToFloat16(v[vOff + h * hd + c]));
            }
        }
    }

    /** Quantizes the full residual block of {@code layer} (positions start .. start+g) into its page slots. */
    private void flush(int layer, int start) {
        MemorySegment seg = segment(start);
        long base = pageBase(start);
        int g = layout.group(), hd = layout.headDim(), bits = layout.bits(), cg = layout.channelGroup();
        int t0 = start % layout.pageTokens(), block = t0 / g;
        float[] rk = residualKeys[layer], rv = residualValues[layer];
        for (int h = 0; h < layout.kvHeads(); h++) {
            long region = base + layout.region(layer, h);
            if (layout.spec().keys() == KeyGrouping.CHANNEL) {
                for (int c = 0; c < hd; c++) {
                    GroupQuantizer.quantize(rk, h * hd + c, kvDim, g, bits, seg, region + layout.keyChannelRun(block, c),
                            region + layout.keyChannelParam(block, c));
                }
            }
            for (int s = 0; s < g; s++) {
                for (int j = 0; j < layout.groupsPerRow(); j++) {
                    int off = s * kvDim + h * hd + j * cg;
                    if (layout.spec().keys() == KeyGrouping.TOKEN) {
                        GroupQuantizer.quantize(rk, off, 1, cg, bits, seg, region + layout.keyTokenRun(t0 + s, j),
                                region + layout.keyTokenParam(t0 + s, j));
                    }
                    GroupQuantizer.quantize(rv, off, 1, cg, bits, seg, region + layout.valueRun(t0 + s, j), region + layout.valueParam(t0 + s, j));
                }
            }
        }
    }

    /** Positions of {@code layer} appended so far. */
    public int length(int layer) {
        return length[layer];
    }

    /** Positions of {@code layer} held in pages; the rest, up to {@link #length}, are in the residual block. */
    public int packedLength(int layer) {
        return layout.spec().format().quantized() ? length[layer] / layout.group() * layout.group() : length[layer];
    }

    /** Residual keys of {@code layer}: position {@code packedLength + s} at {@code s * kvHeads * headDim}. */
    public float[] residualKeys(int layer) {
        return residualKeys[layer];
    }

    public float[] residualValues(int layer) {
        return residualValues[layer];
    }

    /** Returns every page to the pool; the cache must not be used afterwards. */
    @Override
    public void release() {
        cleanable.clean();
    }

    @Override
    public long bytesAllocated() {
        return pagesHeld() * layout.pageBytes() + layout.residualBytes();
    }

    @Override
    public long bytesFor(int positions) {
        return layout.bytesFor(positions);
    }

    @Override
    public String format() {
        return layout.spec().format().flagName();
    }
}
