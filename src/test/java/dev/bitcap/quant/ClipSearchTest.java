package dev.bitcap.quant;

import static dev.bitcap.quant.GptqQuantizerTest.assertMessage;
import static dev.bitcap.quant.LayerStatisticsFixtures.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClipSearchTest {
    /** The grid written out here, independently of the implementation's table. */
    private static final float[] GRID = {1f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f, 0.65f, 0.6f, 0.55f};

    /**
     * Against a brute-force search written here: every (α, β), the error summed token by token in double (not via
     * the Gram block), first minimum in grid order. The two sums differ only in rounding (~1e−13 relative), so the
     * chosen parameters agree exactly unless two different candidates' errors lie that close, which for random
     * inputs has negligible probability. 100 columns with g = 32 cover a short last group.
     */
    @ParameterizedTest
    @CsvSource({"2, 32", "3, 64", "4, 100"})
    void matchesBruteForceSearch(int bits, int g) {
        Random rnd = new Random(9);
        int rows = 6, cols = 100, tokens = 90;
        float[] w = gaussian(rnd, rows * cols, 0.05);
        float[] x = activations(rnd, tokens, cols, 4, 8);
        QuantFormat f = new TestIntAsymFormat(bits);
        GroupQuantized q = ClipSearch.search("t", f, w, rows, cols, g, x, tokens);
        GroupQuantized ref = bruteForce(f, w, rows, cols, g, x, tokens);
        assertArrayEquals(ref.params(), q.params());
        assertArrayEquals(ref.codes(), q.codes());
    }

    /**
     * On real layers: no group is worse than RTN (the grid starts at α = β = 1), and at 2 bits the clipping pays:
     * the summed group errors and the whole layer output error are both strictly smaller than RTN's.
     */
    @ParameterizedTest
    @CsvSource({"0, q", "2, w1", "4, w2"})
    void noGroupWorseThanRtnAndBetterAtTwoBits(int layer, String which) {
        Layer l = stories(layer, which);
        LayerStatistics stats = new LayerStatistics(l.cols());
        stats.add(l.x(), l.tokens());
        for (int bits : new int[] {2, 3}) {
            for (int g : new int[] {32, 64}) {
                QuantFormat f = new TestIntAsymFormat(bits);
                double[] rtn = dequantized(rtn(f, l.w(), l.rows(), l.cols(), g), null);
                double[] clip = dequantized(ClipSearch.search(l.name(), f, l.w(), l.rows(), l.cols(), g, stats), null);
                double rtnSum = 0, clipSum = 0;
                for (int r = 0; r < l.rows(); r++) {
                    for (int k = 0; k < GroupQuantized.groupsPerRow(l.cols(), g); k++) {
                        double a = groupError(rtn, l.w(), l.cols(), g, r, k, l.x(), l.tokens());
                        double b = groupError(clip, l.w(), l.cols(), g, r, k, l.x(), l.tokens());
                        // The search compares dᵀGd, this sums tokens directly: equal up to ~1e-13 relative.
                        assertTrue(b <= a * (1 + 1e-9), l.name() + " row " + r + " group " + k + ": " + b + " > " + a);
                        rtnSum += a;
                        clipSum += b;
                    }
                }
                double rtnOut = outputError(rtn, l.w(), l.rows(), l.cols(), l.x(), l.tokens());
                double clipOut = outputError(clip, l.w(), l.rows(), l.cols(), l.x(), l.tokens());
                System.out.printf("%s int%d g%d: group errors RTN %.4g clip %.4g; output RTN %.4g clip %.4g%n",
                        l.name(), bits, g, rtnSum, clipSum, rtnOut, clipOut);
                if (bits == 2) {
                    assertTrue(clipSum < rtnSum, l.name() + " g" + g);
                    assertTrue(clipOut < rtnOut, l.name() + " g" + g);
                }
            }
        }
    }

    /** Above 512 tokens the search strides down to 512 evenly spaced ones, the same as passing those itself. */
    @Test
    void stridesLongCalibrationToFiveHundredTwelveTokens() {
        Random rnd = new Random(4);
        int rows = 3, cols = 64, tokens = 1300;
        float[] w = gaussian(rnd, rows * cols, 0.05);
        float[] x = activations(rnd, tokens, cols, 2, 5);
        float[] picked = new float[512 * cols];
        for (int k = 0; k < 512; k++) System.arraycopy(x, (int) ((long) k * tokens / 512) * cols, picked, k * cols, cols);
        QuantFormat f = new TestIntAsymFormat(2);
        GroupQuantized a = ClipSearch.search("t", f, w, rows, cols, 32, picked, 512), b = ClipSearch.search("t", f, w, rows, cols, 32, x, tokens);
        assertArrayEquals(a.codes(), b.codes());
        assertArrayEquals(a.params(), b.params());
    }

    @Test
    void badInputs() {
        QuantFormat f = new TestIntAsymFormat(2);
        float[] w = new float[2 * 64], x = new float[3 * 64];
        float[] nan = w.clone();
        nan[3] = Float.NaN;
        assertMessage("blk.1.ffn_down: weight NaN", () -> ClipSearch.search("blk.1.ffn_down", f, nan, 2, 64, 32, x, 3));
        assertMessage("group size 16", () -> ClipSearch.search("t", f, w, 2, 64, 16, x, 3));
        float[] xnan = x.clone();
        xnan[100] = Float.POSITIVE_INFINITY;
        assertMessage("t: calibration input Infinity", () -> ClipSearch.search("t", f, w, 2, 64, 32, xnan, 3));
        assertMessage("calibration values", () -> ClipSearch.search("t", f, w, 2, 64, 32, x, 4));
        assertMessage("no calibration tokens", () -> ClipSearch.search("t", f, w, 2, 64, 32, new float[0], 0));
        LayerStatistics other = new LayerStatistics(32);
        other.add(new float[32], 1);
        assertMessage("32 inputs", () -> ClipSearch.search("t", f, w, 2, 64, 32, other));
    }

    static GroupQuantized bruteForce(QuantFormat f, float[] w, int rows, int cols, int g, float[] x, int tokens) {
        int groups = GroupQuantized.groupsPerRow(cols, g), pc = f.paramCount();
        int[] codes = new int[rows * cols];
        float[] params = new float[rows * groups * pc];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < groups; k++) {
                int c0 = k * g, len = Math.min(g, cols - c0), off = r * cols + c0;
                float[] grp = Arrays.copyOfRange(w, off, off + len);
                float min = grp[0], max = grp[0];
                for (float v : grp) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                double best = Double.POSITIVE_INFINITY;
                float[] p = new float[pc], bestP = null;
                for (float alpha : GRID) {
                    for (float beta : GRID) {
                        f.fit(grp, 0, len, Math.min(beta * min, 0), Math.max(alpha * max, 0), p, 0);
                        double e = 0;
                        for (int t = 0; t < tokens; t++) {
                            double s = 0;
                            for (int i = 0; i < len; i++) {
                                s += ((double) f.decode(f.encode(grp[i], p, 0), p, 0) - grp[i]) * x[t * cols + c0 + i];
                            }
                            e += s * s;
                        }
                        e /= tokens;
                        if (e < best) {
                            best = e;
                            bestP = p.clone();
                        }
                    }
                }
                System.arraycopy(bestP, 0, params, (r * groups + k) * pc, pc);
                for (int i = 0; i < len; i++) codes[off + i] = f.encode(grp[i], bestP, 0);
            }
        }
        return new GroupQuantized(f, rows, cols, g, codes, params);
    }
}
