package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;
import java.util.SplittableRandom;

/**
 * Calibration statistics of one linear layer's inputs, gathered token by token: the Gram matrix XᵀX (double,
 * for GPTQ's Hessian H = 2·XᵀX/n), per-column mean |x| and mean x² (AWQ's activation scale), and a bounded
 * sample of raw input rows (reservoir sampling with a fixed seed, so a run is repeatable) for the clipping and
 * AWQ searches, which need the tokens themselves.
 *
 * <p>Memory: the Gram matrix is cols² doubles: 2 MiB for stories260K's widest layer (512 columns), 128 MiB for
 * 4096 columns and 512 MiB for llama-1b's 8192-column down projection. Gather one layer at a time.
 */
public final class LayerStatistics {
    /** How many raw rows the clip and AWQ searches look at by default (BitDistiller and AWQ use 512 tokens). */
    public static final int DEFAULT_SAMPLE_TOKENS = 512;
    private static final long SAMPLE_SEED = 0x5EED_B17CL;

    private final int cols;
    private final double[] gram;
    private final double[] sumAbs;
    private final double[] sumSquares;
    private final float[] sample;
    private final int sampleCapacity;
    private final SplittableRandom random = new SplittableRandom(SAMPLE_SEED);
    private long tokens;

    public LayerStatistics(int cols) {
        this(cols, DEFAULT_SAMPLE_TOKENS);
    }

    public LayerStatistics(int cols, int sampleCapacity) {
        if (cols <= 0) throw new IllegalArgumentException("cols " + cols);
        if (sampleCapacity <= 0) throw new IllegalArgumentException("sample capacity " + sampleCapacity);
        this.cols = cols;
        this.sampleCapacity = sampleCapacity;
        this.gram = new double[Math.multiplyExact(cols, cols)];
        this.sumAbs = new double[cols];
        this.sumSquares = new double[cols];
        this.sample = new float[Math.multiplyExact(sampleCapacity, cols)];
    }

    public int cols() {
        return cols;
    }

    public long tokens() {
        return tokens;
    }

    /** Adds {@code tokens} input rows, {@code x} holding them row-major ({@code tokens x cols}). */
    public void add(float[] x, int tokens) {
        if (tokens < 0 || (long) tokens * cols > x.length) {
            throw new IllegalArgumentException(tokens + " tokens of " + cols + " columns in " + x.length + " values");
        }
        for (int i = 0, n = tokens * cols; i < n; i++) {
            if (!Float.isFinite(x[i])) {
                throw new BitcapException("calibration input: value " + x[i] + " at token " + (i / cols) + ", column " + (i % cols));
            }
        }
        // Upper triangle only, one row of XᵀX per task: each output is written by one thread.
        // Tokens go in blocks so that a row of XᵀX stays in cache while the block's tokens are added to it.
        Parallel.forRange(cols, 16, (start, end) -> {
            for (int t0 = 0; t0 < tokens; t0 += 64) {
                int t1 = Math.min(tokens, t0 + 64);
                for (int i = start; i < end; i++) {
                    int row = i * cols;
                    for (int t = t0; t < t1; t++) {
                        int base = t * cols;
                        double xi = x[base + i];
                        if (xi == 0) continue;
                        for (int j = i; j < cols; j++) gram[row + j] += xi * x[base + j];
                    }
                }
            }
        });
        for (int t = 0; t < tokens; t++) {
            int base = t * cols;
            for (int j = 0; j < cols; j++) {
                double v = x[base + j];
                sumAbs[j] += Math.abs(v);
                sumSquares[j] += v * v;
            }
            long seen = this.tokens + t;
            int slot = seen < sampleCapacity ? (int) seen : (int) random.nextLong(seen + 1);
            if (slot < sampleCapacity) System.arraycopy(x, base, sample, slot * cols, cols);
        }
        this.tokens += tokens;
    }

    /** GPTQ's Hessian H = 2·XᵀX/n, full (both triangles), {@code cols x cols} row-major, a new array. */
    public double[] hessian() {
        requireTokens();
        double[] h = new double[gram.length];
        double f = 2.0 / tokens;
        for (int i = 0; i < cols; i++) {
            for (int j = i; j < cols; j++) {
                double v = gram[i * cols + j] * f;
                h[i * cols + j] = v;
                h[j * cols + i] = v;
            }
        }
        return h;
    }

    /** Mean |x| of each input column. */
    public double[] meanAbs() {
        requireTokens();
        double[] m = new double[cols];
        for (int j = 0; j < cols; j++) m[j] = sumAbs[j] / tokens;
        return m;
    }

    /** Mean x² of each input column. */
    public double[] meanSquare() {
        requireTokens();
        double[] m = new double[cols];
        for (int j = 0; j < cols; j++) m[j] = sumSquares[j] / tokens;
        return m;
    }

    /** How many rows {@link #sample()} holds: all tokens seen, up to the capacity. */
    public int sampleTokens() {
        return (int) Math.min(tokens, sampleCapacity);
    }

    /** The sampled input rows, {@code sampleTokens() x cols}, a new array. */
    public float[] sample() {
        requireTokens();
        float[] s = new float[sampleTokens() * cols];
        System.arraycopy(sample, 0, s, 0, s.length);
        return s;
    }

    private void requireTokens() {
        if (tokens == 0) throw new BitcapException("calibration statistics: no tokens were added");
    }

    /**
     * The checks every calibration algorithm makes on a layer before it starts: shape, a group size that is a
     * positive multiple of 32 (or the whole row, for per-channel quantization), and finite weights.
     */
    static void checkLayer(String name, float[] w, int rows, int cols, int groupSize) {
        if (rows <= 0 || cols <= 0) throw new BitcapException(name + ": bad shape " + rows + "x" + cols);
        if ((long) rows * cols != w.length) {
            throw new BitcapException(name + ": " + w.length + " weights for shape " + rows + "x" + cols);
        }
        if (groupSize <= 0 || (groupSize % 32 != 0 && groupSize != cols)) {
            throw new BitcapException(name + ": group size " + groupSize + " is not a positive multiple of 32 nor the row length " + cols);
        }
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new BitcapException(name + ": weight " + w[i] + " at row " + (i / cols) + ", column " + (i % cols));
            }
        }
    }

    /** Checks raw calibration rows against a layer's input width; returns how many the searches will use. */
    static int checkInputs(String name, float[] x, int tokens, int cols) {
        if (tokens <= 0) throw new BitcapException(name + ": no calibration tokens");
        if ((long) tokens * cols != x.length) {
            throw new BitcapException(name + ": " + x.length + " calibration values for " + tokens + " tokens of " + cols + " inputs");
        }
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) {
                throw new BitcapException(name + ": calibration input " + x[i] + " at token " + (i / cols) + ", column " + (i % cols));
            }
        }
        return Math.min(tokens, DEFAULT_SAMPLE_TOKENS);
    }

    /** Up to {@link #DEFAULT_SAMPLE_TOKENS} rows of {@code x}, evenly strided when there are more. */
    static float[] strided(float[] x, int tokens, int cols) {
        int keep = Math.min(tokens, DEFAULT_SAMPLE_TOKENS);
        if (keep == tokens) return x;
        float[] s = new float[keep * cols];
        for (int k = 0; k < keep; k++) {
            int t = (int) ((long) k * tokens / keep);
            System.arraycopy(x, t * cols, s, k * cols, cols);
        }
        return s;
    }
}
