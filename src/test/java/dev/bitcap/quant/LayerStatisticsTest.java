package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.*;

import dev.bitcap.BitcapException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LayerStatisticsTest {
    /** Added in uneven batches, the statistics equal the direct double sums (only the addition order differs). */
    @Test
    void matchesDirectSums() {
        Random rnd = new Random(1);
        int cols = 37, tokens = 150;
        float[] x = LayerStatisticsFixtures.activations(rnd, tokens, cols, 3, 10);
        LayerStatistics s = new LayerStatistics(cols);
        int[] batches = {1, 70, 0, 79};
        int at = 0;
        for (int b : batches) {
            s.add(Arrays.copyOfRange(x, at * cols, (at + b) * cols), b);
            at += b;
        }
        assertEquals(tokens, s.tokens());
        double[] h = LayerStatisticsFixtures.hessian(x, tokens, cols);
        double[] got = s.hessian();
        // 150 products per entry, each exact in double: reordering changes the sum by a few ulps of its size.
        for (int i = 0; i < h.length; i++) assertEquals(h[i], got[i], 1e-13 * (1 + Math.abs(h[i])), "H " + i);
        double[] abs = s.meanAbs(), sq = s.meanSquare();
        for (int j = 0; j < cols; j++) {
            double a = 0, q = 0;
            for (int t = 0; t < tokens; t++) {
                a += Math.abs(x[t * cols + j]);
                q += (double) x[t * cols + j] * x[t * cols + j];
            }
            assertEquals(a / tokens, abs[j], 1e-13 * (1 + a / tokens));
            assertEquals(q / tokens, sq[j], 1e-13 * (1 + q / tokens));
            assertEquals(q / tokens * 2, got[j * cols + j], 1e-13 * (1 + q / tokens), "diag of H is 2·mean x²");
        }
        assertArrayEquals(x, s.sample(), "fewer tokens than the capacity: the sample is every row, in order");
    }

    /** Past the capacity the sample holds distinct input rows, the same ones on every run. */
    @Test
    void boundedRepeatableSample() {
        Random rnd = new Random(2);
        int cols = 8, tokens = 1000, cap = 64;
        float[] x = new float[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < cols; j++) x[t * cols + j] = t + j / 16f + (float) rnd.nextGaussian() * 1e-3f;
        }
        LayerStatistics a = new LayerStatistics(cols, cap), b = new LayerStatistics(cols, cap);
        a.add(x, tokens);
        for (int t = 0; t < tokens; t += 100) b.add(Arrays.copyOfRange(x, t * cols, (t + 100) * cols), 100);
        assertEquals(cap, a.sampleTokens());
        assertArrayEquals(a.sample(), b.sample(), "same seed, same rows, however the tokens were batched");
        float[] s = a.sample();
        Set<Integer> seen = new HashSet<>();
        int late = 0;
        for (int k = 0; k < cap; k++) {
            int t = Math.round(s[k * cols]);
            assertArrayEquals(Arrays.copyOfRange(x, t * cols, (t + 1) * cols), Arrays.copyOfRange(s, k * cols, (k + 1) * cols));
            assertTrue(seen.add(t));
            if (t >= cap) late++;
        }
        assertTrue(late > cap / 2, "reservoir keeps replacing: " + late + " of " + cap + " rows come after the first " + cap);
    }

    @Test
    void badInputs() {
        LayerStatistics s = new LayerStatistics(4);
        assertThrows(BitcapException.class, s::hessian, "no tokens");
        BitcapException e = assertThrows(BitcapException.class, () -> s.add(new float[] {0, 1, Float.NaN, 2}, 1));
        assertTrue(e.getMessage().contains("column 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.add(new float[7], 2));
        assertEquals(0, s.tokens(), "a rejected batch adds nothing");
    }
}
