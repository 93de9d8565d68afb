package dev.bitcap.quant;

import dev.bitcap.BitcapException;

/**
 * N:M pruning masks over groups of 8 consecutive input columns of each row, from a per-weight importance score:
 * Wanda's |W_ij|·‖x_j‖₂ (the BiLLM-with-N:M baseline) or STBLLM's Standardized Importance
 * (|W_ij|/Σ_k|W_kj| + |W_ij|/Σ_k|W_ik|)·‖x_j‖₂, where ‖x_j‖₂ is the norm of input column j over the calibration
 * tokens (the paper's form; its code raises the RMS to the power 0.5 instead). STBLLM's standardization σ is left
 * out, as in its code: it is monotone within a matrix, so it changes no mask.
 */
public final class NmMask {
    private NmMask() {}

    /** Wanda: |W_ij|·‖x_j‖₂. */
    public static double[] wanda(float[] w, int rows, int cols, double[] columnNorm) {
        checkShape(w, rows, cols, columnNorm);
        double[] s = new double[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) s[r * cols + c] = Math.abs(w[r * cols + c]) * columnNorm[c];
        }
        return s;
    }

    /** STBLLM's Standardized Importance: |W_ij| normalised by its column's and its row's L1 norms, times ‖x_j‖₂. */
    public static double[] standardizedImportance(float[] w, int rows, int cols, double[] columnNorm) {
        checkShape(w, rows, cols, columnNorm);
        double[] rowSum = new double[rows], colSum = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double a = Math.abs(w[r * cols + c]);
                rowSum[r] += a;
                colSum[c] += a;
            }
        }
        double[] s = new double[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double a = Math.abs(w[r * cols + c]);
                double v = (colSum[c] == 0 ? 0 : a / colSum[c]) + (rowSum[r] == 0 ? 0 : a / rowSum[r]);
                s[r * cols + c] = v * columnNorm[c];
            }
        }
        return s;
    }

    /**
     * The mask keeping, in every row, the {@code keptPer8} highest scores of each group of 8 consecutive columns
     * (a shorter last group keeps ⌈N·width/8⌉); ties keep the lower column.
     */
    public static boolean[] select(double[] score, int rows, int cols, int keptPer8) {
        if (keptPer8 < 1 || keptPer8 > BinaryLayout.M) throw new BitcapException("N:M mask: " + keptPer8 + " kept per 8 is not in 1..8");
        if (score.length != (long) rows * cols) throw new IllegalArgumentException(score.length + " scores for " + rows + "x" + cols);
        boolean[] keep = new boolean[score.length];
        for (int r = 0; r < rows; r++) {
            for (int g0 = 0; g0 < cols; g0 += BinaryLayout.M) {
                int width = Math.min(BinaryLayout.M, cols - g0), n = BinaryLayout.keptInGroup(keptPer8, width), base = r * cols + g0;
                for (int k = 0; k < n; k++) {
                    int best = -1;
                    for (int j = 0; j < width; j++) {
                        if (!keep[base + j] && (best < 0 || score[base + j] > score[base + best])) best = j;
                    }
                    keep[base + best] = true;
                }
            }
        }
        return keep;
    }

    /** ‖x_j‖₂ over the calibration tokens from per-column mean squares. */
    public static double[] columnNorms(double[] meanSquare, long tokens) {
        double[] n = new double[meanSquare.length];
        for (int j = 0; j < n.length; j++) n[j] = Math.sqrt(meanSquare[j] * tokens);
        return n;
    }

    private static void checkShape(float[] w, int rows, int cols, double[] columnNorm) {
        if (w.length != (long) rows * cols || columnNorm.length != cols) {
            throw new IllegalArgumentException(w.length + " weights and " + columnNorm.length + " column norms for " + rows + "x" + cols);
        }
    }
}
