package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.bitcap.attention.BlockSelection;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * seer_decode_select's selection step transliterated to Java, step for step (radix select on the ordered float bits,
 * 8 bits a pass from the top, then the chunked ordered compaction that keeps the last `remaining` of the scores equal to
 * the k-th), against BlockSelection on the same fp32 scores, with many exact ties. This tests the algorithm and its
 * index arithmetic as written in the kernel, not the CUDA code itself (no GPU here).
 */
class DecodeSelectModelTest {
    private static final int THREADS = 256;

    static int orderable(float f) {
        int u = Float.floatToRawIntBits(f);
        return (u & 0x80000000) != 0 ? ~u : (u | 0x80000000);
    }

    /** The list row the kernel writes for c completed blocks (scores sc[0..c-1]): [count, ids...]. */
    static int[] kernel(float[] sc, int c, BlockSelection sel, int listStride) {
        int[] out = new int[listStride];
        if (c <= 1) {
            for (int t = 0; t <= c; t++) out[1 + t] = t;
            out[0] = c + 1;
            return out;
        }
        int middle = c - 1, room = listStride - 3, mode;
        int prefix = 0, remaining = 0, equal = 0;
        if (sel.byThreshold()) {
            mode = 2;
        } else {
            long n = c + 1;
            long budget = Math.max(2, Math.min(n, (long) Math.floor(sel.density() * n + 0.5)));
            int k = (int) budget - 2;
            mode = k >= middle ? 1 : k <= 0 ? 0 : 3;
            if (mode == 3) {
                int mask = 0;
                remaining = k;
                for (int shift = 24; shift >= 0; shift -= 8) {
                    int[] hist = new int[256];
                    for (int j = 1; j < c; j++) {
                        int u = orderable(sc[j]);
                        if ((u & mask) == prefix) hist[(u >>> shift) & 255]++;
                    }
                    int above = 0, digit = -1, pickAbove = 0, pickCount = 0;
                    for (int tid = 0; tid < 256; tid++) { // block_scan in thread order: thread t holds digit 255 - t
                        int count = hist[255 - tid];
                        if (above < remaining && remaining <= above + count) {
                            digit = 255 - tid;
                            pickAbove = above;
                            pickCount = count;
                        }
                        above += count;
                    }
                    prefix |= digit << shift;
                    mask |= 255 << shift;
                    remaining -= pickAbove;
                    equal = pickCount;
                }
            }
        }
        int written = 0;
        if (mode != 0) {
            int equalSeen = 0;
            for (int base = 1; base < c; base += THREADS) {
                boolean[] take = new boolean[THREADS];
                int eqInChunk = 0;
                for (int tid = 0; tid < THREADS; tid++) {
                    int j = base + tid;
                    boolean in = j < c;
                    if (mode == 1) {
                        take[tid] = in;
                    } else if (mode == 2) {
                        take[tid] = in && sc[j] > (float) sel.threshold();
                    } else {
                        int u = in ? orderable(sc[j]) : 0;
                        boolean eq = in && u == prefix;
                        int eqBefore = equalSeen + eqInChunk;
                        if (eq) eqInChunk++;
                        take[tid] = in && (Integer.compareUnsigned(u, prefix) > 0 || (eq && eqBefore >= equal - remaining));
                    }
                }
                equalSeen += eqInChunk;
                int at = written;
                for (int tid = 0; tid < THREADS; tid++) {
                    if (!take[tid]) continue;
                    if (at < room) out[2 + at] = base + tid;
                    at++;
                }
                written = at;
            }
        }
        written = Math.max(0, Math.min(written, room));
        out[0] = written + 2;
        out[1] = 0;
        out[2 + written] = c;
        return out;
    }

    @Test
    void theKernelsRuleIsBlockSelectionsOnTheSameScores() {
        Random rnd = new Random(5);
        BlockSelection[] selections = {BlockSelection.density(0.05), BlockSelection.density(0.3), BlockSelection.density(0.5),
                BlockSelection.density(0.99), BlockSelection.density(1.0), BlockSelection.threshold(0.02), BlockSelection.threshold(0.001)};
        int[] sizes = {0, 1, 2, 3, 4, 5, 17, 255, 256, 257, 258, 513, 1000, 2048, 2500};
        for (int c : sizes) {
            for (int trial = 0; trial < 6; trial++) {
                float[] sc = new float[Math.max(1, c)];
                int levels = trial % 3 == 0 ? 3 : trial % 3 == 1 ? 50 : 0; // few distinct values: many exact ties
                double sum = 0;
                for (int j = 0; j < c; j++) sum += sc[j] = levels > 0 ? 1 + rnd.nextInt(levels) : (float) Math.exp(3 * rnd.nextGaussian());
                for (int j = 0; j < c; j++) sc[j] = (float) (sc[j] / sum);
                if (trial == 5) for (int j = 0; j < c; j++) sc[j] = j % 7 == 0 ? 0f : sc[j]; // exact zeros
                int n = c + 1;
                double[] scores = new double[n];
                for (int j = 0; j < c; j++) scores[j] = sc[j];
                for (BlockSelection sel : selections) {
                    int[] into = new int[n];
                    int[] want = Arrays.copyOf(into, sel.select(scores, n, into));
                    int stride = 1 + CudaSeerDecodeGate.maxListed(sel, n * 64);
                    int[] row = kernel(sc, c, sel, stride);
                    assertArrayEquals(want, Arrays.copyOfRange(row, 1, 1 + row[0]), sel + " c=" + c + " trial " + trial);
                }
            }
        }
    }
}
