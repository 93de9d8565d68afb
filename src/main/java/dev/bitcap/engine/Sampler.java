package dev.bitcap.engine;

import dev.bitcap.tensor.Ops;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks a token from a row of logits according to {@link SamplerSettings}; one instance per sequence. */
public final class Sampler {
    private final SamplerSettings s;
    private final SplittableRandom random;

    public Sampler(SamplerSettings settings) {
        this.s = settings;
        this.random = new SplittableRandom(settings.seed());
    }

    public int sample(float[] logits, int off, int vocab) {
        if (s.greedy()) return Ops.argmax(logits, off, vocab);
        float[] p = Arrays.copyOfRange(logits, off, off + vocab);
        for (int i = 0; i < vocab; i++) p[i] /= s.temperature();
        Ops.softmax(p, 0, vocab);
        Integer[] order = null;
        int keep = vocab;
        if (s.topK() > 0 && s.topK() < vocab) keep = s.topK();
        if (keep < vocab || s.topP() < 1) {
            order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Float.compare(p[b], p[a]));
            if (s.topP() < 1) {
                double cum = 0;
                for (int i = 0; i < keep; i++) {
                    cum += p[order[i]];
                    if (cum >= s.topP()) {
                        keep = i + 1;
                        break;
                    }
                }
            }
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += p[order == null ? i : order[i]];
        double r = random.nextDouble() * total;
        for (int i = 0; i < keep; i++) {
            int id = order == null ? i : order[i];
            r -= p[id];
            if (r <= 0) return id;
        }
        return order == null ? keep - 1 : order[keep - 1];
    }
}
