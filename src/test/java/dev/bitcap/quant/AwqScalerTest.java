package dev.bitcap.quant;

import static dev.bitcap.quant.GptqQuantizerTest.assertMessage;
import static dev.bitcap.quant.LayerStatisticsFixtures.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AwqScalerTest {
    /**
     * The α search against a reference written here: for every α the scales from the formula, RTN of W·diag(s)
     * by the fixtures' own RTN, the output error summed token by token; the implementation must pick the same α
     * and hand back 1/s of it. Also: the final result (after clipping) is no worse than the chosen α's RTN.
     */
    @ParameterizedTest
    @CsvSource({"2, 32", "3, 64"})
    void alphaSearchMatchesReference(int bits, int g) {
        Random rnd = new Random(21);
        int rows = 16, cols = 128, tokens = 200;
        float[] w = gaussian(rnd, rows * cols, 0.05);
        float[] x = activations(rnd, tokens, cols, 5, 30);
        QuantFormat f = new TestIntAsymFormat(bits);
        AwqScaler.Result result = AwqScaler.search("t", f, w, rows, cols, g, x, tokens);

        double[] meanAbs = new double[cols];
        for (int t = 0; t < tokens; t++) for (int j = 0; j < cols; j++) meanAbs[j] += Math.abs(x[t * cols + j]) / tokens;
        double best = Double.POSITIVE_INFINITY;
        int bestK = -1;
        float[] bestInv = null;
        for (int k = 0; k < 20; k++) {
            double[] s = new double[cols];
            double max = 0, min = Double.MAX_VALUE;
            for (int j = 0; j < cols; j++) {
                s[j] = Math.max(Math.pow(meanAbs[j], k * 0.05), 1e-4f);
                max = Math.max(max, s[j]);
                min = Math.min(min, s[j]);
            }
            float[] sf = new float[cols], inv = new float[cols];
            for (int j = 0; j < cols; j++) {
                sf[j] = (float) (s[j] / Math.sqrt(max * min));
                inv[j] = 1 / sf[j];
            }
            float[] ws = new float[w.length];
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) ws[r * cols + c] = w[r * cols + c] * sf[c];
            double e = outputError(dequantized(rtn(f, ws, rows, cols, g), inv), w, rows, cols, x, tokens);
            if (k == 0) assertEquals(outputError(dequantized(rtn(f, w, rows, cols, g), null), w, rows, cols, x, tokens), e, 0, "α = 0 is RTN");
            if (e < best) {
                best = e;
                bestK = k;
                bestInv = inv;
            }
        }
        assertTrue(bestK > 0, "loud columns make some α > 0 pay");
        assertEquals(bestK * 0.05, result.alpha(), 1e-12);
        // The means differ from the implementation's in the last double bits (summation order); after the float
        // rounding of s and of 1/s that leaves at most a couple of float ulps.
        for (int j = 0; j < cols; j++) assertEquals(bestInv[j], result.inputScale()[j], 2 * Math.ulp(bestInv[j]), "column " + j);
        double got = outputError(dequantized(result.quantized(), result.inputScale()), w, rows, cols, x, tokens);
        // The guard compares the same sums in another order: ~1e-13 relative.
        assertTrue(got <= best * (1 + 1e-9), got + " > " + best);
    }

    /** On real layers: never worse than RTN, and a clear gain when a few input columns are much larger. */
    @ParameterizedTest
    @CsvSource({"0, q", "1, w1", "0, w2", "4, w2"})
    void noWorseThanRtnOnStoriesLayers(int layer, String which) {
        Layer l = stories(layer, which);
        LayerStatistics stats = new LayerStatistics(l.cols());
        stats.add(l.x(), l.tokens());
        for (int bits : new int[] {2, 3}) {
            int g = 32;
            QuantFormat f = new TestIntAsymFormat(bits);
            double rtn = outputError(dequantized(rtn(f, l.w(), l.rows(), l.cols(), g), null), l.w(), l.rows(), l.cols(), l.x(), l.tokens());
            AwqScaler.Result r = AwqScaler.search(l.name(), f, l.w(), l.rows(), l.cols(), g, stats);
            double awq = outputError(dequantized(r.quantized(), r.inputScale()), l.w(), l.rows(), l.cols(), l.x(), l.tokens());
            System.out.printf("%s int%d g%d: RTN %.4g AWQ %.4g (alpha %.2f)%n", l.name(), bits, g, rtn, awq, r.alpha());
            assertTrue(awq <= rtn * (1 + 1e-9), l.name() + ": " + awq + " > " + rtn);
        }
    }

    @Test
    void loudInputColumnsGetProtected() {
        Random rnd = new Random(8);
        int rows = 32, cols = 256, tokens = 300;
        float[] w = gaussian(rnd, rows * cols, 0.05);
        float[] x = activations(rnd, tokens, cols, 4, 50);
        QuantFormat f = new TestIntAsymFormat(3);
        double rtn = outputError(dequantized(rtn(f, w, rows, cols, 64), null), w, rows, cols, x, tokens);
        AwqScaler.Result r = AwqScaler.search("t", f, w, rows, cols, 64, x, tokens);
        double awq = outputError(dequantized(r.quantized(), r.inputScale()), w, rows, cols, x, tokens);
        System.out.printf("loud columns int3 g64: RTN %.4g AWQ %.4g (alpha %.2f)%n", rtn, awq, r.alpha());
        assertTrue(r.alpha() > 0);
        assertTrue(awq < rtn / 2, awq + " vs " + rtn);
        int loud = 13 % cols; // the first loud column of the fixture
        float median = sortedCopy(r.inputScale())[cols / 2];
        assertTrue(r.inputScale()[loud] < median, "a loud column's weights are scaled up, its inputs down");
    }

    private static float[] sortedCopy(float[] v) {
        float[] c = v.clone();
        java.util.Arrays.sort(c);
        return c;
    }

    @Test
    void badInputs() {
        QuantFormat f = new TestIntAsymFormat(2);
        float[] w = new float[2 * 64], x = new float[3 * 64];
        float[] nan = w.clone();
        nan[64] = Float.NaN;
        assertMessage("blk.2.attn_v: weight NaN at row 1", () -> AwqScaler.search("blk.2.attn_v", f, nan, 2, 64, 32, x, 3));
        assertMessage("group size 33", () -> AwqScaler.search("t", f, w, 2, 64, 33, x, 3));
        assertMessage("calibration values", () -> AwqScaler.search("t", f, w, 2, 64, 32, x, 2));
        LayerStatistics other = new LayerStatistics(32);
        other.add(new float[32], 1);
        assertMessage("32 inputs", () -> AwqScaler.search("t", f, w, 2, 64, 32, other));
    }
}
