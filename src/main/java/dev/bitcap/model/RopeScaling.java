package dev.bitcap.model;

import java.util.Arrays;

/**
 * RoPE frequency scaling. {@code NONE} uses theta^(-2j/d) unchanged; {@code LLAMA3} is Llama 3.1's
 * piecewise scaling: long wavelengths are divided by {@code factor}, short ones kept, and the band between
 * them interpolated smoothly. {@code FACTORS} divides each frequency by its own factor, as GGUF files carry
 * any such scaling (llama.cpp's {@code rope_freqs.weight} tensor).
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor, int originalContext,
                          float[] frequencyFactors) {
    public enum Type { NONE, LLAMA3, FACTORS }

    public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 1, 1, 0, null);

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {
        return new RopeScaling(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalContext, null);
    }

    /** Frequency j divided by {@code factors[j]}. */
    public static RopeScaling factors(float[] factors) {
        for (float f : factors) {
            if (!(f > 0) || Float.isInfinite(f)) throw new IllegalArgumentException("RoPE frequency factor " + f + " is not a positive number");
        }
        return new RopeScaling(Type.FACTORS, 1, 1, 1, 0, factors.clone());
    }

    /** Inverse frequencies for the {@code rotaryDim/2} rotated pairs. */
    public float[] inverseFrequencies(int rotaryDim, double theta) {
        if (type == Type.FACTORS && frequencyFactors.length != rotaryDim / 2) {
            throw new IllegalArgumentException(frequencyFactors.length + " RoPE frequency factors for " + rotaryDim / 2 + " frequencies");
        }
        float[] inv = new float[rotaryDim / 2];
        for (int j = 0; j < inv.length; j++) {
            double freq = unscaled(j, rotaryDim, theta);
            inv[j] = (float) switch (type) {
                case NONE -> freq;
                case LLAMA3 -> scaleLlama3(freq);
                case FACTORS -> freq / frequencyFactors[j];
            };
        }
        return inv;
    }

    /** The per-frequency factors that reproduce this scaling, for formats that store only factors (GGUF). */
    public float[] asFactors(int rotaryDim, double theta) {
        float[] f = new float[rotaryDim / 2];
        for (int j = 0; j < f.length; j++) {
            double freq = unscaled(j, rotaryDim, theta);
            f[j] = (float) switch (type) {
                case NONE -> 1.0;
                case LLAMA3 -> freq / scaleLlama3(freq);
                case FACTORS -> frequencyFactors[j];
            };
        }
        return f;
    }

    private static double unscaled(int j, int rotaryDim, double theta) {
        return 1.0 / Math.pow(theta, (2.0 * j) / rotaryDim);
    }

    private double scaleLlama3(double freq) {
        double lowFreqWavelen = originalContext / lowFreqFactor;
        double highFreqWavelen = originalContext / highFreqFactor;
        double wavelen = 2 * Math.PI / freq;
        if (wavelen < highFreqWavelen) return freq;
        if (wavelen > lowFreqWavelen) return freq / factor;
        double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * freq / factor + smooth * freq;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RopeScaling r && r.type == type && r.factor == factor && r.lowFreqFactor == lowFreqFactor
                && r.highFreqFactor == highFreqFactor && r.originalContext == originalContext
                && Arrays.equals(r.frequencyFactors, frequencyFactors);
    }

    @Override
    public int hashCode() {
        return type.hashCode() * 31 + Arrays.hashCode(frequencyFactors);
    }

    @Override
    public String toString() {
        return switch (type) {
            case NONE -> "none";
            case LLAMA3 -> "llama3(factor " + factor + ", low " + lowFreqFactor + ", high " + highFreqFactor + ", original context " + originalContext + ")";
            case FACTORS -> "per-frequency factors (" + frequencyFactors.length + ")";
        };
    }
}
