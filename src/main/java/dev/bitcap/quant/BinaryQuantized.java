package dev.bitcap.quant;

/**
 * A binarized matrix before packing ({@link BinaryLayout} explains the fields): per weight its sign bit (1 = +1)
 * and state, row-major {@code rows x cols}; per column whether it is salient; the fp16-rounded parameters
 * {@code [rows][blocks][2R+3]}.
 */
public record BinaryQuantized(int rows, int cols, int keptPer8, int regions, boolean[] salient, byte[] signs, byte[] states,
                              float[] params) {
    public BinaryQuantized {
        BinaryLayout.check(keptPer8, regions);
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("bad shape " + rows + "x" + cols);
        long n = (long) rows * cols;
        if (salient.length != cols || signs.length != n || states.length != n) throw new IllegalArgumentException("arrays do not match " + rows + "x" + cols);
        if (params.length != (long) rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions)) {
            throw new IllegalArgumentException(params.length + " parameters for " + rows + "x" + cols);
        }
    }

    public int blocks() {
        return BinaryLayout.blocksPerRow(cols);
    }

    public boolean isPruned(int r, int c) {
        return BinaryLayout.pruned(keptPer8) && states[r * cols + c] == 0;
    }

    /** The value weight (r, c) stands for, in float exactly as the kernels' tables compute it. */
    public float dequantize(int r, int c) {
        return value(params, (r * blocks() + c / BinaryLayout.BLOCK) * BinaryLayout.paramsPerBlock(regions), keptPer8, regions,
                salient[c], states[r * cols + c], signs[r * cols + c] != 0);
    }

    /** Every weight's value, row-major. */
    public float[] dequantizeAll() {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) out[r * cols + c] = dequantize(r, c);
        }
        return out;
    }

    /** The value of a weight with the given salience, state and sign under the block parameters at {@code p[off..]}. */
    static float value(float[] p, int off, int keptPer8, int regions, boolean salient, int state, boolean positive) {
        int k = state;
        if (BinaryLayout.pruned(keptPer8)) {
            if (state == 0) return 0f;
            k = state - 1;
        }
        if (!salient) {
            if (k >= regions) return 0f;
            float a = p[off + 2 * k + 1];
            return p[off + 2 * k] + (positive ? a : -a);
        }
        if (k >= 2) return 0f;
        float a1 = p[off + 2 * regions + 1], a2 = p[off + 2 * regions + 2];
        float v = p[off + 2 * regions] + (positive ? a1 : -a1);
        return v + (k == 1 ? a2 : -a2);
    }
}
