package dev.bitcap.quant;

import static dev.bitcap.quant.GptqQuantizerTest.assertMessage;
import static dev.bitcap.quant.LayerStatisticsFixtures.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** BiLLM / STBLLM binarization on real stories260K layers and on hand-made cases. */
class BinaryQuantizerTest {
    static double[] columnNorms(Layer l) {
        double[] n = new double[l.cols()];
        for (int t = 0; t < l.tokens(); t++) {
            for (int c = 0; c < l.cols(); c++) n[c] += (double) l.x()[t * l.cols() + c] * l.x()[t * l.cols() + c];
        }
        for (int c = 0; c < n.length; c++) n[c] = Math.sqrt(n[c]);
        return n;
    }

    static double[] hessian(Layer l) {
        LayerStatistics s = new LayerStatistics(l.cols());
        s.add(l.x(), l.tokens());
        return s.hessian();
    }

    static double[] identity(int cols) {
        double[] h = new double[cols * cols];
        for (int i = 0; i < cols; i++) h[i * cols + i] = 1;
        return h;
    }

    /** STBLLM: SI mask, trisection. */
    static BinaryQuantized stbllm(Layer l, double[] h, int keptPer8) {
        boolean[] keep = keptPer8 == 8 ? null : NmMask.select(NmMask.standardizedImportance(l.w(), l.rows(), l.cols(), columnNorms(l)), l.rows(), l.cols(), keptPer8);
        return BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), h, keep, keptPer8, 3);
    }

    /** The baseline: Wanda mask, BiLLM's two-way split. */
    static BinaryQuantized billm(Layer l, double[] h, int keptPer8) {
        boolean[] keep = keptPer8 == 8 ? null : NmMask.select(NmMask.wanda(l.w(), l.rows(), l.cols(), columnNorms(l)), l.rows(), l.cols(), keptPer8);
        return BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), h, keep, keptPer8, 2);
    }

    static double[] asDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double weightError(float[] q, float[] w) {
        double e = 0;
        for (int i = 0; i < w.length; i++) e += ((double) q[i] - w[i]) * ((double) q[i] - w[i]);
        return e;
    }

    /**
     * The plain binarization BiLLM improves on: α·sign(w) with α = mean|w| per row and block. With an identity
     * Hessian there is no feedback, so the weight error measures the binarizer alone: salient residual columns
     * and the |w| split must do better on every real layer, dense and 3-region alike.
     */
    @ParameterizedTest
    @CsvSource({"0, q", "0, w1", "0, w2", "2, w2", "4, w1"})
    void blockBinarizationBeatsSignTimesMeanAbs(int layer, String which) {
        Layer l = stories(layer, which);
        float[] plain = new float[l.w().length];
        for (int r = 0; r < l.rows(); r++) {
            for (int b0 = 0; b0 < l.cols(); b0 += BinaryLayout.BLOCK) {
                int b1 = Math.min(l.cols(), b0 + BinaryLayout.BLOCK);
                double a = 0;
                for (int c = b0; c < b1; c++) a += Math.abs(l.w()[r * l.cols() + c]);
                a /= b1 - b0;
                for (int c = b0; c < b1; c++) plain[r * l.cols() + c] = (float) (l.w()[r * l.cols() + c] >= 0 ? a : -a);
            }
        }
        double plainErr = weightError(plain, l.w());
        for (int regions : new int[] {2, 3}) {
            BinaryQuantized q = BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), identity(l.cols()), null, 8, regions);
            double err = weightError(q.dequantizeAll(), l.w());
            System.out.printf("%s %d regions: weight error %.4g vs sign*mean|w| %.4g (%.2fx)%n", l.name(), regions, err, plainErr, plainErr / err);
            assertTrue(err < 0.7 * plainErr, l.name() + " " + regions + " regions: " + err + " vs " + plainErr);
        }
    }

    /** Exactly N kept in every group of 8 of every row, the mask the quantizer was given, after error feedback too. */
    @ParameterizedTest
    @CsvSource({"4, 2", "5, 3", "6, 3", "4, 3"})
    void nmMaskHoldsAfterErrorCompensation(int keptPer8, int regions) {
        Layer l = stories(1, "w2"); // 64 x 172: two blocks, so the second one receives feedback; a short last group of 4
        boolean[] keep = NmMask.select(NmMask.standardizedImportance(l.w(), l.rows(), l.cols(), columnNorms(l)), l.rows(), l.cols(), keptPer8);
        BinaryQuantized q = BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), hessian(l), keep, keptPer8, regions);
        float[] d = q.dequantizeAll();
        int feedbackMoved = 0, keptZero = 0;
        for (int r = 0; r < l.rows(); r++) {
            for (int g0 = 0; g0 < l.cols(); g0 += 8) {
                int width = Math.min(8, l.cols() - g0), kept = 0, nonZero = 0;
                for (int c = g0; c < g0 + width; c++) {
                    int i = r * l.cols() + c;
                    assertEquals(keep[i], !q.isPruned(r, c), "row " + r + " col " + c);
                    if (!keep[i]) {
                        assertEquals(0f, d[i]);
                        assertEquals(0, q.signs()[i]);
                    }
                    if (keep[i]) kept++;
                    if (d[i] != 0) nonZero++;
                }
                assertEquals(width == 8 ? keptPer8 : (keptPer8 * width + 7) / 8, kept, "row " + r + " group " + g0);
                assertTrue(nonZero <= kept, "row " + r + " group " + g0);
                keptZero += kept - nonZero;
            }
        }
        // A kept weight decodes to exactly 0 only when its region's fp16 μ and α cancel (seen once in this layer,
        // a sparse region with μ = −α): the mask is exact, the values almost never zero.
        assertTrue(keptZero <= 2, keptZero + " kept weights decode to 0");
        // the second block's weights did move under feedback (else this test would not cover it)
        BinaryQuantized noFeedback = BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), identity(l.cols()), keep, keptPer8, regions);
        float[] d0 = noFeedback.dequantizeAll();
        for (int r = 0; r < l.rows(); r++) for (int c = 128; c < l.cols(); c++) if (d0[r * l.cols() + c] != d[r * l.cols() + c]) feedbackMoved++;
        assertTrue(feedbackMoved > 100, "feedback changed " + feedbackMoved + " weights of the second block");
    }

    @Test
    void maskKeepsTheHighestScores() {
        double[] s = {5, 1, 7, 3, 3, 0, 2, 9, /* short group */ 4, 1, 6};
        boolean[] keep = NmMask.select(s, 1, 11, 4);
        assertArrayEquals(new boolean[] {true, false, true, true, false, false, false, true, true, false, true}, keep,
                "4 of the first 8 (ties to the lower column), ⌈4·3/8⌉ = 2 of the last 3");
        double[] si = NmMask.standardizedImportance(new float[] {1, -2, 3, 4}, 2, 2, new double[] {1, 10});
        assertArrayEquals(new double[] {(1 / 4.0 + 1 / 3.0) * 1, (2 / 6.0 + 2 / 3.0) * 10, (3 / 4.0 + 3 / 7.0) * 1, (4 / 6.0 + 4 / 7.0) * 10}, si, 1e-12);
        assertArrayEquals(new double[] {1, 20, 3, 40}, NmMask.wanda(new float[] {1, -2, 3, 4}, 2, 2, new double[] {1, 10}), 1e-12);
    }

    /**
     * The comparison at equal N:M on the layer output error ‖(Ŵ − W)·Xᵀ‖²: STBLLM (SI mask, trisection)
     * against the baseline (Wanda mask + BiLLM's two-way split), both with the same feedback loop and the same N
     * (no layer allocation here). Asserted over the seven layers together, as the geometric mean of the ratios,
     * because single layers go both ways. Measured exceptions (BiLLM vs STBLLM): at 4:8 layer 0 q 27.2k vs 28.3k,
     * layer 2 q 29.4k vs 30.5k, layer 4 w2 6107 vs 6124; at 6:8 layer 4 w2 4431 vs 4441. Investigated: with the
     * same mask, trisection always lowers the block's weight error (splitting a region cannot raise it) but not
     * always the output error, which the |w| break-point search does not see; on the 64-column q layers (one
     * block, so no feedback) this decides, and SI's column normalisation picks a worse mask than Wanda there.
     */
    @Test
    void stbllmBeatsBillmAtEqualNmOverRealLayers() {
        String[][] layers = {{"0", "q"}, {"0", "w1"}, {"0", "w2"}, {"1", "w2"}, {"2", "q"}, {"3", "w1"}, {"4", "w2"}};
        double[] logRatio = new double[3];
        for (String[] which : layers) {
            Layer l = stories(Integer.parseInt(which[0]), which[1]);
            double[] h = hessian(l);
            for (int k = 0; k < 3; k++) {
                int n = 4 + k;
                double base = outputError(asDoubles(billm(l, h, n).dequantizeAll()), l.w(), l.rows(), l.cols(), l.x(), l.tokens());
                double st = outputError(asDoubles(stbllm(l, h, n).dequantizeAll()), l.w(), l.rows(), l.cols(), l.x(), l.tokens());
                System.out.printf("%s %d:8: BiLLM %.4g STBLLM %.4g (%.2fx)%n", l.name(), n, base, st, base / st);
                logRatio[k] += Math.log(st / base) / layers.length;
            }
        }
        for (int k = 0; k < 3; k++) {
            System.out.printf("%d:8: STBLLM/BiLLM output error, geometric mean over layers %.3f%n", 4 + k, Math.exp(logRatio[k]));
            assertTrue(logRatio[k] < 0, (4 + k) + ":8: STBLLM/BiLLM geometric mean " + Math.exp(logRatio[k]));
        }
    }

    /**
     * Feedback through the real Hessian lowers the output error against binarizing every block on its own. Only w2
     * (172 columns) has a second block to feed. Layer 0's w2 is left out, measured and explained: its input has one
     * channel with ~1500x the median mean x² (GptqQuantizerTest meets the same one), and the first block's errors
     * pushed onto the second block cost as much as they save there (3528 vs 3514 alone, 2 regions).
     */
    @ParameterizedTest
    @CsvSource({"1, w2", "2, w2", "3, w2", "4, w2"})
    void feedbackLowersTheOutputError(int layer, String which) {
        Layer l = stories(layer, which);
        for (int regions : new int[] {2, 3}) {
            double alone = outputError(asDoubles(BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), identity(l.cols()), null, 8, regions).dequantizeAll()),
                    l.w(), l.rows(), l.cols(), l.x(), l.tokens());
            double withFeedback = outputError(asDoubles(BinaryQuantizer.quantize(l.name(), l.w(), l.rows(), l.cols(), hessian(l), null, 8, regions).dequantizeAll()),
                    l.w(), l.rows(), l.cols(), l.x(), l.tokens());
            System.out.printf("%s %d regions: alone %.4g, with feedback %.4g%n", l.name(), regions, alone, withFeedback);
            assertTrue(withFeedback < alone, l.name() + ": " + withFeedback + " vs " + alone);
        }
    }

    @Test
    void badInputsNameTheLayer() {
        int rows = 4, cols = 64;
        float[] w = gaussian(new Random(1), rows * cols, 0.1);
        double[] h = identity(cols);
        float[] nan = w.clone();
        nan[70] = Float.POSITIVE_INFINITY;
        assertMessage("blk.2.ffn_down: weight Infinity at row 1, column 6", () -> BinaryQuantizer.quantize("blk.2.ffn_down", nan, rows, cols, h, null, 8, 2));
        assertMessage("Hessian has 10 values", () -> BinaryQuantizer.quantize("t", w, rows, cols, new double[10], null, 8, 2));
        assertMessage("9 kept per 8", () -> NmMask.select(new double[8], 1, 8, 9));
        assertMessage("4 regions", () -> BinaryQuantizer.quantize("t", w, rows, cols, h, null, 8, 4));
        assertThrows(IllegalArgumentException.class, () -> BinaryQuantizer.quantize("t", w, rows, cols, h, null, 4, 2), "4:8 without a mask");
        double[] negative = identity(cols);
        negative[0] = -1;
        assertMessage("t: Hessian is not positive definite", () -> BinaryQuantizer.quantize("t", w, rows, cols, negative, null, 8, 3));
    }
}
