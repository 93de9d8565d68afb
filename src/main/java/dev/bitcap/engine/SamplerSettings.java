package dev.bitcap.engine;

import dev.bitcap.BitcapException;

/**
 * How the next token is chosen: temperature 0 is greedy (argmax); otherwise logits are divided by the
 * temperature, cut to the top-k (0 = all) and to the smallest set whose probability reaches top-p (1 = all),
 * and a token is drawn with a generator seeded by {@code seed}.
 */
public record SamplerSettings(float temperature, int topK, float topP, long seed) {
    public static final SamplerSettings GREEDY = new SamplerSettings(0, 0, 1, 0);

    public SamplerSettings {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new BitcapException("--temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new BitcapException("--top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new BitcapException("--top-p must be in (0, 1], got " + topP);
    }

    /** Temperature 0: the argmax, whatever the seed, top-k and top-p. */
    public boolean greedy() {
        return temperature == 0;
    }
}
