package dev.bitcap.engine;

import dev.bitcap.model.ModelConfig;

/** cos/sin of position x inverse frequency, computed once per position and kept (positions only grow). */
public final class RopeTable {
    private final float[] invFreq;
    private float[][] cos = new float[0][];
    private float[][] sin = new float[0][];

    public RopeTable(ModelConfig config) {
        this.invFreq = config.ropeScaling().inverseFrequencies(config.headDim(), config.ropeTheta());
    }

    public synchronized void ensure(int maxPosition) {
        if (maxPosition < cos.length) return;
        int n = Math.max(maxPosition + 1, cos.length * 2);
        float[][] c = java.util.Arrays.copyOf(cos, n);
        float[][] s = java.util.Arrays.copyOf(sin, n);
        for (int p = cos.length; p < n; p++) {
            c[p] = new float[invFreq.length];
            s[p] = new float[invFreq.length];
            for (int j = 0; j < invFreq.length; j++) {
                double angle = (double) p * invFreq[j];
                c[p][j] = (float) Math.cos(angle);
                s[p][j] = (float) Math.sin(angle);
            }
        }
        cos = c;
        sin = s;
    }

    float[] cos(int position) {
        return cos[position];
    }

    float[] sin(int position) {
        return sin[position];
    }
}
