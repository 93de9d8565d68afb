package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import java.util.Arrays;

/**
 * Judges one block list of the GPU decode gate against {@link BlockSelection#select} on the CPU's scores (double) of
 * the same row. The GPU scores in fp32, so where two blocks score within rounding of the boundary (the k-th largest
 * score under a density, the threshold under a threshold) it may keep the other one; such a row is a near tie. A row
 * that differs otherwise, or is not a valid list (ascending, distinct, within 0..n-1, 0 and n-1 present, under a
 * density exactly the budget), is a failure.
 */
final class DecodeListCompare {
    enum Verdict { SAME, NEAR_TIE, DIFFERENT }

    private DecodeListCompare() {}

    /**
     * {@code got} (the GPU's ids, as listed) against the CPU's choice from {@code scores} (n entries, n = c + 1; only
     * 1..n-2 rank). Blocks that only one side lists must each score within {@code gap} (relative) of the boundary.
     */
    static Verdict judge(double[] scores, int n, BlockSelection selection, int[] got, double gap) {
        int[] into = new int[Math.max(1, n)];
        int[] want = Arrays.copyOf(into, selection.select(scores, n, into));
        if (Arrays.equals(want, got)) return Verdict.SAME;
        if (n <= 2 || !wellFormed(got, n)) return Verdict.DIFFERENT;
        double boundary;
        if (selection.byThreshold()) {
            boundary = selection.threshold();
        } else {
            int k = want.length - 2;
            if (got.length != want.length || k <= 0 || k >= n - 2) return Verdict.DIFFERENT;
            double[] middle = Arrays.copyOfRange(scores, 1, n - 1);
            Arrays.sort(middle);
            boundary = middle[middle.length - k];
        }
        boolean[] inWant = new boolean[n], inGot = new boolean[n];
        for (int j : want) inWant[j] = true;
        for (int j : got) inGot[j] = true;
        for (int j = 1; j < n - 1; j++) {
            if (inWant[j] != inGot[j] && Math.abs(scores[j] - boundary) > gap * Math.abs(boundary)) return Verdict.DIFFERENT;
        }
        return Verdict.NEAR_TIE;
    }

    /** Strictly ascending ids within 0..n-1 that start with 0 and end with n-1. */
    static boolean wellFormed(int[] ids, int n) {
        if (ids.length < Math.min(2, n) || ids.length > n || ids[0] != 0 || ids[ids.length - 1] != n - 1) return false;
        for (int i = 1; i < ids.length; i++) if (ids[i] <= ids[i - 1]) return false;
        return true;
    }

    /**
     * The ids of list row {@code row} of a downloaded list buffer ({@code [count, ids...]} rows {@code stride} ints
     * apart), or null when its count is outside 1..stride-1.
     */
    static int[] row(int[] lists, int row, int stride) {
        int base = row * stride, count = lists[base];
        if (count < 1 || count > stride - 1) return null;
        return Arrays.copyOfRange(lists, base + 1, base + 1 + count);
    }
}
