package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.cuda.DecodeListCompare.Verdict;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The host side of the decode gate's check rows and list sizing (runs without a GPU). */
class DecodeListCompareTest {
    private static final double GAP = 1e-4;

    @Test
    void theCpuChoiceIsSame() {
        double[] s = {0.1, 0.3, 0.05, 0.2, 0.35, 0};
        BlockSelection d = BlockSelection.density(0.5); // n = 6: budget 3, one middle block: 4 (0.35)
        assertEquals(Verdict.SAME, DecodeListCompare.judge(s, 6, d, new int[] {0, 4, 5}, GAP));
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, d, new int[] {0, 1, 5}, GAP));
    }

    @Test
    void aSwapAtTheBoundaryWithinTheGapIsANearTie() {
        double[] s = {0.1, 0.3, 0.05, 0.3 * (1 + 1e-6), 0.25, 0};
        BlockSelection d = BlockSelection.density(0.5); // the best middle block: 3, by 1e-6 over block 1
        assertEquals(Verdict.SAME, DecodeListCompare.judge(s, 6, d, new int[] {0, 3, 5}, GAP));
        assertEquals(Verdict.NEAR_TIE, DecodeListCompare.judge(s, 6, d, new int[] {0, 1, 5}, GAP));
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, d, new int[] {0, 4, 5}, GAP), "0.25 is clearly below 0.3");
    }

    @Test
    void exactTiesGoToTheLaterBlockAndTheOtherChoiceIsANearTie() {
        double[] s = {0.2, 0.2, 0.2, 0.2, 0.2, 0};
        BlockSelection d = BlockSelection.density(0.5);
        assertEquals(Verdict.SAME, DecodeListCompare.judge(s, 6, d, new int[] {0, 4, 5}, GAP));
        assertEquals(Verdict.NEAR_TIE, DecodeListCompare.judge(s, 6, d, new int[] {0, 2, 5}, GAP));
    }

    @Test
    void aWrongCountOrAMalformedListIsDifferent() {
        double[] s = {0.1, 0.3, 0.3, 0.3, 0.0, 0};
        BlockSelection d = BlockSelection.density(0.5);
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, d, new int[] {0, 2, 3, 5}, GAP), "one block too many");
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, d, new int[] {0, 3, 4}, GAP), "the current block missing");
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, d, new int[] {1, 3, 5}, GAP), "block 0 missing");
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, BlockSelection.density(0.8), new int[] {0, 3, 2, 5}, GAP), "not ascending");
        assertFalse(DecodeListCompare.wellFormed(new int[] {0, 2, 2, 5}, 6));
        assertFalse(DecodeListCompare.wellFormed(new int[] {0, 6}, 6));
        assertTrue(DecodeListCompare.wellFormed(new int[] {0}, 1));
        assertTrue(DecodeListCompare.wellFormed(new int[] {0, 1}, 2));
    }

    @Test
    void shortRowsListEveryBlockWhateverTheScores() {
        assertEquals(Verdict.SAME, DecodeListCompare.judge(new double[] {0}, 1, BlockSelection.density(0.1), new int[] {0}, GAP));
        assertEquals(Verdict.SAME, DecodeListCompare.judge(new double[] {1, 0}, 2, BlockSelection.threshold(0.9), new int[] {0, 1}, GAP));
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(new double[] {1, 0}, 2, BlockSelection.density(0.1), new int[] {0}, GAP));
    }

    @Test
    void underAThresholdOnlyBlocksNearItMayDiffer() {
        double[] s = {0.5, 0.02 * (1 + 1e-6), 0.3, 0.02 * (1 - 1e-6), 0.16, 0};
        BlockSelection t = BlockSelection.threshold(0.02);
        assertEquals(Verdict.SAME, DecodeListCompare.judge(s, 6, t, new int[] {0, 1, 2, 4, 5}, GAP));
        assertEquals(Verdict.NEAR_TIE, DecodeListCompare.judge(s, 6, t, new int[] {0, 2, 4, 5}, GAP));
        assertEquals(Verdict.NEAR_TIE, DecodeListCompare.judge(s, 6, t, new int[] {0, 1, 2, 3, 4, 5}, GAP));
        assertEquals(Verdict.DIFFERENT, DecodeListCompare.judge(s, 6, t, new int[] {0, 1, 4, 5}, GAP), "0.3 is clearly above");
    }

    @Test
    void rowsOfADownloadedBuffer() {
        int[] lists = {3, 0, 4, 7, -1, 2, 0, 1, 9, 9, 9, 9, 9, 9, 9};
        assertArrayEquals(new int[] {0, 4, 7}, DecodeListCompare.row(lists, 0, 5));
        assertArrayEquals(new int[] {0, 1}, DecodeListCompare.row(lists, 1, 5));
        assertNull(DecodeListCompare.row(lists, 2, 5), "a count of 9 does not fit a row of 5 ints");
    }

    @Test
    void maxListedBoundsEverySelectionAndGrowsWithTheLength() {
        Random rnd = new Random(3);
        BlockSelection[] selections = {BlockSelection.density(0.1), BlockSelection.density(0.3), BlockSelection.density(1.0),
                BlockSelection.threshold(0.02), BlockSelection.threshold(0.005), BlockSelection.threshold(0.3)};
        for (BlockSelection sel : selections) {
            int previous = 0;
            for (int length = 1; length <= 64 * 300; length += 1 + rnd.nextInt(64)) {
                int bound = CudaSeerDecodeGate.maxListed(sel, length);
                assertTrue(bound >= previous, sel + " at " + length);
                previous = bound;
                int n = (length - 1) / 64 + 1;
                double[] s = softmax(rnd, n, rnd.nextDouble() * 6);
                int[] into = new int[n];
                assertTrue(sel.select(s, n, into) <= bound, sel + " n " + n);
            }
        }
        assertEquals(1, CudaSeerDecodeGate.maxListed(BlockSelection.density(0.1), 64));
        assertEquals(2, CudaSeerDecodeGate.maxListed(BlockSelection.density(0.1), 65));
        assertEquals(2, CudaSeerDecodeGate.maxListed(BlockSelection.density(0.1), 64 * 3));
        assertEquals(10, CudaSeerDecodeGate.maxListed(BlockSelection.density(0.1), 64 * 100));
        assertEquals(100, CudaSeerDecodeGate.maxListed(BlockSelection.density(1.0), 64 * 99 + 1));
    }

    @Test
    void thresholdBoundHoldsWhenRoundedScoresSumPastOne() {
        // 100 middle blocks each just above 0.01: fp32 sums a little past 1 could list them all
        int n = 102;
        double[] s = new double[n];
        Arrays.fill(s, 1, n - 1, 0.01 * (1 + 1e-7));
        int[] into = new int[n];
        BlockSelection t = BlockSelection.threshold(0.01);
        assertEquals(102, t.select(s, n, into));
        assertTrue(CudaSeerDecodeGate.maxListed(t, n * 64) >= 102);
    }

    private static double[] softmax(Random rnd, int n, double spread) {
        double[] s = new double[n];
        if (n == 1) return s;
        double sum = 0;
        for (int j = 0; j < n - 1; j++) sum += s[j] = Math.exp(spread * rnd.nextGaussian());
        for (int j = 0; j < n - 1; j++) s[j] /= sum;
        return s;
    }
}
