package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import java.util.Random;
import java.util.TreeSet;

/**
 * Which positions a block-sparse decode row attends ({@link CudaPagedAttention#decodeSparse}), on the host: the rule
 * the check's reference applies, and the virtual position walk of {@code kv_attention.cu}'s {@code SparseMap} in
 * Java, so that both are pinned down by unit tests without a GPU.
 *
 * <p>A row is {@code [count, b_1 .. b_count]} (block ids ascending) at {@code row[off]}; blocks are {@code blk}
 * positions (a multiple of 32). With fullEnd = (packed / blk) * blk, the row attends every position of each listed
 * block j with (j + 1) * blk <= fullEnd, plus every position of [fullEnd, length) (the packed tail [fullEnd, packed)
 * and the ring [packed, length)) whether listed or not; listed blocks at or past fullEnd add nothing.
 *
 * <p>The kernel walks virtual positions t in [0, V), V = nFull * blk + (packed - fullEnd), nFull = listed ids below
 * packed / blk: t < nFull * blk is position t % blk of the (t / blk)-th listed block, the rest is fullEnd + (t - nFull *
 * blk); the ring is its own split.
 */
public final class SparseDecodeMask {
    private SparseDecodeMask() {}

    /** Refuses a block size the kernels cannot walk (a 32-token step must never straddle two blocks). */
    public static void requireBlock(int blk) {
        if (blk <= 0 || blk % 32 != 0) {
            throw new BitcapException("block-sparse decode needs blocks of a positive multiple of 32 positions, got " + blk);
        }
    }

    /** The end of the last whole block of the packed positions: (packed / blk) * blk. */
    public static int fullEnd(int packed, int blk) {
        return packed / blk * blk;
    }

    /** nFull: the listed ids below packed / blk (the blocks the walk visits). */
    public static int fullListed(int[] row, int off, int packed, int blk) {
        int limit = packed / blk, n = 0;
        for (int i = 0; i < row[off]; i++) if (row[off + 1 + i] < limit) n++;
        return n;
    }

    /** V: the virtual length of the packed positions the row walks. */
    public static int virtualLength(int[] row, int off, int packed, int blk) {
        return fullListed(row, off, packed, blk) * blk + packed - fullEnd(packed, blk);
    }

    /** The real position of virtual position t, as SparseMap::real (ids ascending). */
    public static int realPosition(int[] row, int off, int packed, int blk, int t) {
        int nFull = fullListed(row, off, packed, blk), b = t / blk;
        return b < nFull ? row[off + 1 + b] * blk + (t - b * blk) : fullEnd(packed, blk) + (t - nFull * blk);
    }

    /** attended[t] for t in [0, length): the rule, stated directly (not through the virtual walk). */
    public static boolean[] attended(int[] row, int off, int blk, int packed, int length) {
        requireBlock(blk);
        int end = fullEnd(packed, blk);
        boolean[] a = new boolean[length];
        for (int i = 0; i < row[off]; i++) {
            int j = row[off + 1 + i];
            if (j >= 0 && (long) (j + 1) * blk <= end) for (int t = j * blk; t < (j + 1) * blk; t++) a[t] = true;
        }
        for (int t = end; t < length; t++) a[t] = true;
        return a;
    }

    /** The number of positions the row attends. */
    public static int attendedCount(int[] row, int off, int blk, int packed, int length) {
        int n = 0;
        for (boolean b : attended(row, off, blk, packed, length)) if (b) n++;
        return n;
    }

    /**
     * A row as a gate might write it, for checks and benchmarks: block 0, the last whole block of the packed positions
     * and the last block of the sequence, and each middle block with probability p; ids ascending.
     */
    public static int[] randomRow(Random rnd, int blk, int packed, int length, double p) {
        TreeSet<Integer> ids = new TreeSet<>();
        int blocks = (length + blk - 1) / blk, lastFull = packed / blk - 1;
        if (blocks > 0) {
            ids.add(0);
            ids.add(blocks - 1);
        }
        if (lastFull >= 0) ids.add(lastFull);
        for (int j = 1; j < blocks - 1; j++) if (rnd.nextDouble() < p) ids.add(j);
        int[] row = new int[1 + ids.size()];
        row[0] = ids.size();
        int i = 1;
        for (int j : ids) row[i++] = j;
        return row;
    }

    /** A row listing every block of a sequence of {@code length} positions. */
    public static int[] allBlocks(int blk, int length) {
        int blocks = (length + blk - 1) / blk;
        int[] row = new int[1 + blocks];
        row[0] = blocks;
        for (int j = 0; j < blocks; j++) row[1 + j] = j;
        return row;
    }
}
