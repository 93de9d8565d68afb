package dev.bitcap.quant;

import java.util.Random;

/**
 * Times GPTQ on random layers (not a test: speed is measured, never asserted). Run with the test classpath:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.bitcap.quant.GptqQuantizerTiming}.
 */
final class GptqQuantizerTiming {
    public static void main(String[] args) {
        // The first shape twice: its first run includes the JIT's warm-up.
        int[][] shapes = {{2048, 2048}, {2048, 2048}, {8192, 2048}};
        QuantFormat f = new TestIntAsymFormat(4);
        Random rnd = new Random(1);
        for (int[] s : shapes) {
            int rows = s[0], cols = s[1], tokens = 256;
            float[] w = LayerStatisticsFixtures.gaussian(rnd, rows * cols, 0.02);
            float[] x = LayerStatisticsFixtures.activations(rnd, tokens, cols, 8, 20);
            long t0 = System.nanoTime();
            LayerStatistics stats = new LayerStatistics(cols);
            stats.add(x, tokens);
            double[] h = stats.hessian();
            long t1 = System.nanoTime();
            try {
                double[] damped = h.clone(); // 256 tokens give H rank 256: factor it damped, as GPTQ does
                double mean = 0;
                for (int i = 0; i < cols; i++) mean += h[i * cols + i] / cols;
                for (int i = 0; i < cols; i++) damped[i * cols + i] += 0.01 * mean;
                Cholesky.lower(damped, cols);
            } catch (Cholesky.NotPositiveDefinite e) {
                throw new AssertionError(e);
            }
            long tl = System.nanoTime();
            boolean[] dead = new boolean[cols];
            GptqQuantizer.inverseFactor("timing", h, cols, dead);
            long t2 = System.nanoTime();
            GptqQuantizer.quantize("timing", f, w, rows, cols, 128, h);
            long t3 = System.nanoTime();
            System.out.printf("%dx%d: statistics of %d tokens %.2f s; Cholesky of damped H alone %.2f s; U = chol(H⁻¹) %.2f s; GPTQ call (U included) %.2f s; threads %d%n",
                    rows, cols, tokens, (t1 - t0) / 1e9, (tl - t1) / 1e9, (t2 - tl) / 1e9, (t3 - t2) / 1e9, dev.bitcap.tensor.Parallel.threads());
        }
    }
}
