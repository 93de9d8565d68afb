package dev.bitcap.model;

/**
 * RoPE frequency scaling. {@code NONE} uses theta^(-2j/d) unchanged; {@code LLAMA3} is Llama 3.1's
 * piecewise scaling: long wavelengths are divided by {@code factor}, short ones kept, and the band between
 * them interpolated smoothly.
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {
    public enum Type { NONE, LLAMA3 }

    public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 1, 1, 0);

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {
        return new RopeScaling(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalContext);
    }

    /** Inverse frequencies for the {@code rotaryDim/2} rotated pairs. */
    public float[] inverseFrequencies(int rotaryDim, double theta) {
        float[] inv = new float[rotaryDim / 2];
        for (int j = 0; j < inv.length; j++) {
            double freq = 1.0 / Math.pow(theta, (2.0 * j) / rotaryDim);
            inv[j] = (float) (type == Type.LLAMA3 ? scaleLlama3(freq) : freq);
        }
        return inv;
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
}
