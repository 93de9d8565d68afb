package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block-sparse decode rule (SparseDecodeMask) and the kernel's virtual walk over it, without a GPU: the walk
 * visits exactly the attended packed positions, every 16/32-token step of a split is contiguous and in one page, and
 * keys per channel refold the query exactly when a step's g-block differs from the one folded.
 */
class SparseDecodeMaskTest {
    @Test
    void explicitRow() {
        // blk 64, packed 416 (fullEnd 384, tail 384..415), ring 416..420; block 6 (384..447) is listed but adds nothing.
        int[] row = {4, 0, 2, 5, 6};
        boolean[] a = SparseDecodeMask.attended(row, 0, 64, 416, 421);
        for (int t = 0; t < 421; t++) {
            boolean want = t < 64 || (t >= 128 && t < 192) || (t >= 320 && t < 384) || t >= 384;
            assertEquals(want, a[t], "position " + t);
        }
        assertEquals(3 * 64 + 37, SparseDecodeMask.attendedCount(row, 0, 64, 416, 421));
        assertEquals(3, SparseDecodeMask.fullListed(row, 0, 416, 64));
        assertEquals(3 * 64 + 32, SparseDecodeMask.virtualLength(row, 0, 416, 64));
        assertEquals(130, SparseDecodeMask.realPosition(row, 0, 416, 64, 66));
        assertEquals(384, SparseDecodeMask.realPosition(row, 0, 416, 64, 192));
    }

    @Test
    void everyBlockListedIsDense() {
        for (int blk : new int[] {32, 64, 96, 128}) {
            for (int packed : new int[] {0, 32, 96, 416, 640}) {
                int length = packed + 13;
                int[] row = SparseDecodeMask.allBlocks(blk, length);
                assertEquals(length, SparseDecodeMask.attendedCount(row, 0, blk, packed, length));
                assertEquals(packed, SparseDecodeMask.virtualLength(row, 0, packed, blk));
                for (int t = 0; t < packed; t++) assertEquals(t, SparseDecodeMask.realPosition(row, 0, packed, blk, t));
            }
        }
    }

    @Test
    void emptyRowKeepsTailAndRing() {
        int[] row = {0, 0, 0};
        boolean[] a = SparseDecodeMask.attended(row, 0, 96, 320, 333); // fullEnd 288
        for (int t = 0; t < 333; t++) assertEquals(t >= 288, a[t], "position " + t);
        assertEquals(32, SparseDecodeMask.virtualLength(row, 0, 320, 96));
    }

    @Test
    void rowAtAnOffsetWithPadding() {
        int[] lists = {2, 1, 3, 0, 0, /* next row */ 1, 0, 0, 0, 0};
        assertArrayEquals(SparseDecodeMask.attended(new int[] {1, 0}, 0, 32, 128, 130), SparseDecodeMask.attended(lists, 5, 32, 128, 130));
        assertEquals(2, SparseDecodeMask.fullListed(lists, 0, 128, 32));
    }

    @Test
    void refusesBlocksThatAreNotMultiplesOf32() {
        for (int blk : new int[] {0, -32, 16, 48, 100}) assertThrows(BitcapException.class, () -> SparseDecodeMask.requireBlock(blk));
        for (int blk : new int[] {32, 64, 96, 128, 256}) SparseDecodeMask.requireBlock(blk);
    }

    /** The virtual walk, split by the plan's shape, against the rule, for random rows of every block size and format step. */
    @Test
    void virtualWalkVisitsExactlyTheAttendedPackedPositions() {
        Random rnd = new Random(7);
        for (int iter = 0; iter < 400; iter++) {
            int blk = 32 * (1 + rnd.nextInt(4));
            boolean quantized = rnd.nextBoolean();
            int bt = quantized ? 32 << rnd.nextInt(3) : 16; // g-token blocks (fp16: 16)
            int packed = bt * rnd.nextInt(3000 / bt), length = packed + rnd.nextInt(bt);
            int[] row = rnd.nextInt(10) == 0 ? SparseDecodeMask.allBlocks(blk, length) : SparseDecodeMask.randomRow(rnd, blk, packed, length, 0.3);
            int v = SparseDecodeMask.virtualLength(row, 0, packed, blk);
            boolean[] want = SparseDecodeMask.attended(row, 0, blk, packed, length);
            boolean[] seen = new boolean[packed];
            int maxListed = row[0] + rnd.nextInt(3);
            int walk = (int) Math.min(packed, ((long) maxListed + 1) * blk);
            int[] shape = CudaPagedAttention.splitShape(walk, 1 + rnd.nextInt(64), 132, 4 * (1 + rnd.nextInt(4)), quantized);
            int chunk = shape[0], splits = shape[1];
            assertTrue((long) splits * chunk >= v, "splits cover the virtual length");
            int step = quantized && rnd.nextBoolean() ? 32 : 16;
            int group = quantized ? bt : 16;
            for (int s = 0; s < splits; s++) {
                int start = s * chunk, end = Math.min(v, start + chunk), prev = 0, folded = -1;
                assertEquals(0, start % step);
                for (int t0 = start; t0 < end; t0 += step) {
                    int r = SparseDecodeMask.realPosition(row, 0, packed, blk, t0);
                    assertTrue(t0 + step <= end, "a step ends inside its split");
                    assertEquals(r / CudaKvLayout.PAGE_TOKENS, (r + step - 1) / CudaKvLayout.PAGE_TOKENS, "a step lies in one page");
                    for (int i = 0; i < step; i++) {
                        int ri = SparseDecodeMask.realPosition(row, 0, packed, blk, t0 + i);
                        assertEquals(r + i, ri, "a step is contiguous");
                        assertTrue(ri < packed && !seen[ri], "visited once, below packed");
                        seen[ri] = true;
                    }
                    // attend_folded under KEY_CHANNEL: the query holds the scales of the g-block it was last folded for.
                    if (t0 == start || r % group == 0 || r != prev + step) folded = r / group;
                    assertEquals(r / group, folded, "keys per channel folded for the step's own g-block");
                    prev = r;
                }
            }
            for (int t = 0; t < packed; t++) assertEquals(want[t], seen[t], "position " + t + " of packed " + packed + ", blk " + blk);
        }
    }
}
