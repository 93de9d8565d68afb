package dev.bitcap.attention;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.RopeStyle;
import java.util.Random;

/**
 * The SeerAttention gate of a model: per layer, a map without bias from each query head's block-averaged Q
 * ({@code headDim} inputs) into a small gate space, and one from each KV head's block max, min and average of K
 * ({@code 3·headDim} inputs) into the same space. Both read Q and K before RoPE; the gate rotates its own
 * vectors with the model's RoPE frequencies (at gate width) at the first position of their block, so block
 * scores depend on the distance between blocks. Weights are kept in double: the gate is tiny and is trained here.
 */
public final class SeerGate {
    /** What the gate was made for and how wide it is. */
    public record Shape(int layers, int heads, int kvHeads, int headDim, int gateDim, int block) {
        public Shape {
            if (gateDim < 2 || gateDim % 2 != 0) throw new BitcapException("gate dim must be even and >= 2, got " + gateDim);
            if (block < 2) throw new BitcapException("--block must be >= 2, got " + block);
            if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads do not split into " + kvHeads + " KV heads");
        }

        int group() {
            return heads / kvHeads;
        }
    }

    private final Shape shape;
    private final double[] invFreq;
    private final RopeStyle ropeStyle;
    private final String modelFingerprint;
    private final String modelName;
    /** wq[layer][(h·headDim + c)·gateDim + o]: input channel c of query head h to gate channel o. */
    private final double[][] wq;
    /** wk[layer][(g·3·headDim + c)·gateDim + o]: channel c of KV head g's [max | min | avg] to gate channel o. */
    private final double[][] wk;

    public SeerGate(Shape shape, double[] invFreq, RopeStyle ropeStyle, String modelFingerprint, String modelName,
                    double[][] wq, double[][] wk) {
        if (invFreq.length != shape.gateDim() / 2) throw new IllegalArgumentException("need " + shape.gateDim() / 2 + " RoPE frequencies");
        this.shape = shape;
        this.invFreq = invFreq.clone();
        this.ropeStyle = ropeStyle;
        this.modelFingerprint = modelFingerprint;
        this.modelName = modelName;
        this.wq = wq;
        this.wk = wk;
        for (int l = 0; l < shape.layers(); l++) {
            if (wq[l].length != qWeights(shape) || wk[l].length != kWeights(shape)) throw new IllegalArgumentException("layer " + l + " weights have the wrong size");
        }
    }

    /** A fresh gate with Xavier-uniform weights (each head's map is fan-in x gate dim). */
    public static SeerGate initialised(Shape shape, double[] invFreq, RopeStyle ropeStyle, String modelFingerprint, String modelName, long seed) {
        Random random = new Random(seed);
        double[][] wq = new double[shape.layers()][qWeights(shape)];
        double[][] wk = new double[shape.layers()][kWeights(shape)];
        double qLimit = Math.sqrt(6.0 / (shape.headDim() + shape.gateDim()));
        double kLimit = Math.sqrt(6.0 / (3 * shape.headDim() + shape.gateDim()));
        for (int l = 0; l < shape.layers(); l++) {
            for (int i = 0; i < wq[l].length; i++) wq[l][i] = (2 * random.nextDouble() - 1) * qLimit;
            for (int i = 0; i < wk[l].length; i++) wk[l][i] = (2 * random.nextDouble() - 1) * kLimit;
        }
        return new SeerGate(shape, invFreq, ropeStyle, modelFingerprint, modelName, wq, wk);
    }

    static int qWeights(Shape s) {
        return s.heads() * s.headDim() * s.gateDim();
    }

    static int kWeights(Shape s) {
        return s.kvHeads() * 3 * s.headDim() * s.gateDim();
    }

    public Shape shape() {
        return shape;
    }

    public double[] invFreq() {
        return invFreq.clone();
    }

    public RopeStyle ropeStyle() {
        return ropeStyle;
    }

    public String modelFingerprint() {
        return modelFingerprint;
    }

    public String modelName() {
        return modelName;
    }

    /** The query-branch weights of a layer, live (the trainer updates them in place). */
    public double[] queryWeights(int layer) {
        return wq[layer];
    }

    public double[] keyWeights(int layer) {
        return wk[layer];
    }

    /** 1/√gateDim, the scale of gate scores. */
    public double scale() {
        return 1.0 / Math.sqrt(shape.gateDim());
    }

    /**
     * Refuses a gate made for another model or block size, naming the difference. {@code block} is the block size
     * the caller asked for, or 0 for "whatever the gate has".
     */
    public void checkUsableFor(String fingerprint, String name, int heads, int kvHeads, int headDim, int layers, int block, String source) {
        if (layers != shape.layers() || heads != shape.heads() || kvHeads != shape.kvHeads() || headDim != shape.headDim()) {
            throw new BitcapException("gate " + source + " was trained for a model with " + shape.layers() + " layers, " + shape.heads() + "/"
                    + shape.kvHeads() + " heads of " + shape.headDim() + ", not " + layers + " layers, " + heads + "/" + kvHeads + " heads of " + headDim);
        }
        if (!fingerprint.equals(modelFingerprint)) {
            throw new BitcapException("gate " + source + " was trained for model " + modelName + " (fingerprint " + modelFingerprint
                    + "), not " + name + " (fingerprint " + fingerprint + ")");
        }
        if (block != 0 && block != shape.block()) {
            throw new BitcapException("gate " + source + " was trained for block size " + shape.block() + ", not " + block);
        }
    }

    /** out[oOff..+gateDim) = RoPE(position) of query head h's map of pooled[pOff..+headDim). */
    public void query(int layer, int h, double[] pooled, int pOff, int position, double[] out, int oOff) {
        project(wq[layer], h * shape.headDim(), shape.headDim(), pooled, pOff, out, oOff);
        rotate(out, oOff, position, false);
    }

    /** out[oOff..+gateDim) = RoPE(position) of KV head g's map of pooled[pOff..+3·headDim) = [max | min | avg]. */
    public void key(int layer, int g, double[] pooled, int pOff, int position, double[] out, int oOff) {
        project(wk[layer], g * 3 * shape.headDim(), 3 * shape.headDim(), pooled, pOff, out, oOff);
        rotate(out, oOff, position, false);
    }

    private void project(double[] w, int rowBase, int inputs, double[] x, int xOff, double[] out, int oOff) {
        int gd = shape.gateDim();
        java.util.Arrays.fill(out, oOff, oOff + gd, 0);
        for (int c = 0; c < inputs; c++) {
            double v = x[xOff + c];
            int row = (rowBase + c) * gd;
            for (int o = 0; o < gd; o++) out[oOff + o] += v * w[row + o];
        }
    }

    /** Rotates one gate vector by the angles of {@code position} ({@code inverse}: by minus them, the transpose). */
    public void rotate(double[] x, int off, int position, boolean inverse) {
        int half = shape.gateDim() / 2;
        for (int j = 0; j < half; j++) {
            double angle = position * invFreq[j];
            double c = Math.cos(angle), s = inverse ? -Math.sin(angle) : Math.sin(angle);
            int a = ropeStyle == RopeStyle.ADJACENT_PAIRS ? off + 2 * j : off + j;
            int b = ropeStyle == RopeStyle.ADJACENT_PAIRS ? a + 1 : a + half;
            double x0 = x[a], x1 = x[b];
            x[a] = x0 * c - x1 * s;
            x[b] = x0 * s + x1 * c;
        }
    }

    /** Average of rows {@code from..to} of one head's slice ({@code width} floats at {@code headOff} in rows of {@code stride}). */
    public static void averagePool(float[] x, int stride, int headOff, int width, int from, int to, double[] out, int oOff) {
        java.util.Arrays.fill(out, oOff, oOff + width, 0);
        for (int t = from; t < to; t++) {
            for (int c = 0; c < width; c++) out[oOff + c] += x[t * stride + headOff + c];
        }
        for (int c = 0; c < width; c++) out[oOff + c] /= (to - from);
    }

    /** [max | min | avg] over rows {@code from..to} of one head's slice, 3·width values at {@code out[oOff]}. */
    public static void keyPool(float[] x, int stride, int headOff, int width, int from, int to, double[] out, int oOff) {
        for (int c = 0; c < width; c++) {
            double max = Double.NEGATIVE_INFINITY, min = Double.POSITIVE_INFINITY, sum = 0;
            for (int t = from; t < to; t++) {
                double v = x[t * stride + headOff + c];
                max = Math.max(max, v);
                min = Math.min(min, v);
                sum += v;
            }
            out[oOff + c] = max;
            out[oOff + width + c] = min;
            out[oOff + 2 * width + c] = sum / (to - from);
        }
    }
}
