package dev.bitcap.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PagedKvCacheTest {
    private static final int LAYERS = 2, KV_HEADS = 2, HEAD_DIM = 16, KV_DIM = KV_HEADS * HEAD_DIM;

    private static KvLayout layout(KvFormat f, int group, KeyGrouping keys, int pageTokens) {
        return new KvLayout(new KvSpec(f, group, keys), LAYERS, KV_HEADS, HEAD_DIM, pageTokens);
    }

    private static float[][] append(PagedKvCache cache, int from, int to, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] k = new float[KV_DIM], v = new float[KV_DIM];
        float[][] last = null;
        for (int p = from; p < to; p++) {
            for (int l = 0; l < LAYERS; l++) {
                for (int i = 0; i < KV_DIM; i++) {
                    k[i] = (float) rnd.nextGaussian();
                    v[i] = (float) rnd.nextGaussian();
                }
                cache.append(l, p, k, 0, v, 0);
            }
            last = new float[][] {k.clone(), v.clone()};
        }
        return last;
    }

    /** A filled residual block is packed into the page slots it already had: same slab, same address, no new storage. */
    @Test
    void flushPacksInPlaceWithoutAllocating() {
        KvPagePool pool = new KvPagePool(layout(KvFormat.INT4, 32, KeyGrouping.CHANNEL, 64), 8);
        PagedKvCache cache = new PagedKvCache(pool, 128);
        cache.reserve(64);
        var slab = cache.segment(0);
        long address = slab.address() + cache.pageBase(0);
        long reserved = pool.bytesReserved();
        int slabs = pool.slabsAllocated();
        append(cache, 0, 31, 1);
        assertEquals(0, cache.packedLength(0));
        append(cache, 31, 33, 2); // position 31 fills the first block: it is flushed
        assertEquals(32, cache.packedLength(0));
        assertEquals(1, cache.length(0) - cache.packedLength(0));
        append(cache, 33, 64, 3); // second block flushed into the same page
        assertEquals(64, cache.packedLength(1));
        assertEquals(1, cache.pagesHeld());
        assertTrue(slab == cache.segment(63), "the page stays in its slab");
        assertEquals(address, cache.segment(63).address() + cache.pageBase(63));
        assertEquals(reserved, pool.bytesReserved());
        assertEquals(slabs, pool.slabsAllocated());
        // the page's bytes are the ones the flush wrote: decoding them gives the appended values to within a step
        float[][] rows = DequantizedCache.rows(cache, 1);
        assertEquals(64 * KV_DIM, rows[0].length);
    }

    @Test
    void poolExhaustionIsRefusedWithTheNumbers() {
        KvLayout lay = layout(KvFormat.INT2, 32, KeyGrouping.TOKEN, 64);
        KvPagePool pool = new KvPagePool(lay, 3);
        PagedKvCache a = new PagedKvCache(pool, 1000), b = new PagedKvCache(pool, 1000);
        a.reserve(128);
        BitcapException e = assertThrows(BitcapException.class, () -> b.reserve(130));
        assertTrue(e.getMessage().contains("needs 3 more pages of 64 tokens"), e.getMessage());
        assertTrue(e.getMessage().contains("1 of 3 pages are free"), e.getMessage());
        assertTrue(e.getMessage().contains("MiB"), e.getMessage());
        assertEquals(0, b.pagesHeld(), "a refused reservation takes nothing");
        b.reserve(64);
        assertEquals(0, pool.freePages());
        // appending past the reserved pages also asks the pool, and is refused the same way
        append(b, 0, 64, 5);
        assertThrows(BitcapException.class, () -> append(b, 64, 65, 6));
        a.release();
        assertEquals(2, pool.freePages());
        append(b, 64, 65, 6);
        assertEquals(2, b.pagesHeld());
    }

    @Test
    void sequencesOfDifferentLengthsShareOnePool() {
        KvPagePool pool = new KvPagePool(layout(KvFormat.FP16, 32, KeyGrouping.CHANNEL, 32), 20);
        int[] lengths = {5, 32, 33, 100, 170};
        PagedKvCache[] caches = new PagedKvCache[lengths.length];
        for (int s = 0; s < lengths.length; s++) {
            caches[s] = new PagedKvCache(pool, 512);
            append(caches[s], 0, lengths[s], 10 + s);
        }
        int pages = 0;
        java.util.Set<Long> addresses = new java.util.HashSet<>();
        for (int s = 0; s < lengths.length; s++) {
            assertEquals((lengths[s] + 31) / 32, caches[s].pagesHeld());
            pages += caches[s].pagesHeld();
            for (int p = 0; p < lengths[s]; p += 32) addresses.add(caches[s].segment(p).address() + caches[s].pageBase(p));
        }
        assertEquals(pages, pool.pagesInUse());
        assertEquals(pages, addresses.size(), "no page is given to two sequences");
        // every sequence still reads back its own last position exactly (fp16 of a value)
        for (int s = 0; s < lengths.length; s++) {
            float[][] last = lastAppended(lengths[s], 10 + s);
            float[][] rows = DequantizedCache.rows(caches[s], LAYERS - 1);
            for (int i = 0; i < KV_DIM; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(last[0][i])), rows[0][(lengths[s] - 1) * KV_DIM + i]);
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(last[1][i])), rows[1][(lengths[s] - 1) * KV_DIM + i]);
            }
        }
    }

    private static float[][] lastAppended(int length, long seed) {
        PagedKvCache scratch = new PagedKvCache(new KvPagePool(layout(KvFormat.FP16, 32, KeyGrouping.CHANNEL, 32), 64), 512);
        return append(scratch, 0, length, seed);
    }

    @Test
    void bytesFollowTheFormat() {
        // int4 g32 per channel, head dim 16: per token and head, codes 8+8 bytes, key params 16*4/32, value params 1*4
        KvLayout lay = layout(KvFormat.INT4, 32, KeyGrouping.CHANNEL, 64);
        assertEquals(LAYERS * KV_HEADS * (16 + 2 + 4), lay.bytesPerPackedToken(), 1e-9);
        assertEquals(32 * (long) lay.bytesPerPackedToken() + 3L * 2 * LAYERS * KV_DIM * 4, lay.bytesFor(35));
        KvLayout half = layout(KvFormat.FP16, 32, KeyGrouping.CHANNEL, 64);
        assertEquals(2L * 2 * LAYERS * KV_DIM * 35, half.bytesFor(35));
        PagedKvCache cache = new PagedKvCache(new KvPagePool(lay, 4), 256);
        append(cache, 0, 70, 9);
        assertEquals(2 * lay.pageBytes() + lay.residualBytes(), cache.bytesAllocated());
    }

    @Test
    void unsupportedHeadDimsAndGroupsAreOneLineErrors() {
        assertThrows(BitcapException.class, () -> new KvSpec(KvFormat.INT4, 48, KeyGrouping.CHANNEL));
        BitcapException e = assertThrows(BitcapException.class, () -> new KvSpec(KvFormat.INT4, 64, KeyGrouping.TOKEN).checkHeadDim(96));
        assertTrue(e.getMessage().contains("head dim 96"), e.getMessage());
        assertThrows(BitcapException.class, () -> new KvSpec(KvFormat.INT2, 32, KeyGrouping.CHANNEL).checkHeadDim(12));
        new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL).checkHeadDim(12);
        new KvSpec(KvFormat.INT2, 128, KeyGrouping.CHANNEL).checkHeadDim(8);
        assertTrue(new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL).describe(16).contains("capped at head dim 16"));
    }

    @Test
    void positionsOutOfOrderAreABug() {
        PagedKvCache cache = new PagedKvCache(new KvPagePool(layout(KvFormat.INT4, 32, KeyGrouping.TOKEN, 64), 4), 64);
        float[] row = new float[KV_DIM];
        assertThrows(IllegalStateException.class, () -> cache.append(0, 1, row, 0, row, 0));
        assertArrayEquals(new int[] {0, 0}, new int[] {cache.length(0), cache.length(1)});
    }
}
