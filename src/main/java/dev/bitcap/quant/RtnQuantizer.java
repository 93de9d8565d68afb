package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;

/**
 * Round-to-nearest quantization: every group is fitted to its own range (widened to include 0, as AutoGPTQ
 * does, so that one-sign groups keep their values) and each weight gets the nearest code. No calibration data.
 */
public final class RtnQuantizer {
    private RtnQuantizer() {}

    public static GroupQuantized quantize(QuantFormat f, float[] w, int rows, int cols, int groupSize) {
        return quantize(f, w, rows, cols, groupSize, "weights");
    }

    /**
     * Quantizes the row-major {@code rows x cols} matrix {@code w} named {@code name} (used in error messages).
     * {@code groupSize} is a positive multiple of 32, or -1 (or {@code cols}) for one group per row.
     */
    public static GroupQuantized quantize(QuantFormat f, float[] w, int rows, int cols, int groupSize, String name) {
        if (rows <= 0 || cols <= 0 || w.length != (long) rows * cols) {
            throw new BitcapException("tensor " + name + ": " + w.length + " weights do not form " + rows + "x" + cols);
        }
        int g = QuantFormats.resolveGroupSize(groupSize, cols);
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new BitcapException("tensor " + name + " has a non-finite weight " + w[i] + " at row "
                        + i / cols + ", column " + i % cols);
            }
        }
        int groups = GroupQuantized.groupsPerRow(cols, g), pc = f.paramCount();
        int[] codes = new int[w.length];
        float[] params = new float[rows * groups * pc];
        Parallel.forRange(rows, 16, (start, end) -> {
            for (int r = start; r < end; r++) {
                for (int gi = 0; gi < groups; gi++) {
                    int off = r * cols + gi * g, len = Math.min(g, cols - gi * g), pOff = (r * groups + gi) * pc;
                    float lo = 0, hi = 0;
                    for (int i = off; i < off + len; i++) {
                        lo = Math.min(lo, w[i]);
                        hi = Math.max(hi, w[i]);
                    }
                    f.fit(w, off, len, lo, hi, params, pOff);
                    for (int i = off; i < off + len; i++) codes[i] = f.encode(w[i], params, pOff);
                }
            }
        });
        return new GroupQuantized(f, rows, cols, g, codes, params);
    }
}
