package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import org.junit.jupiter.api.Test;

class SamplerTest {
    @Test
    void greedyPicksTheFirstMaximum() {
        assertEquals(2, new Sampler(SamplerSettings.GREEDY).sample(new float[] {0, 1, 3, 3, -1}, 0, 5));
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        // probabilities ~ [0.64, 0.24, 0.09, 0.03]: top-p 0.5 keeps only token 0
        float[] logits = {3, 2, 1, 0};
        Sampler s = new Sampler(new SamplerSettings(1, 0, 0.5f, 1));
        for (int i = 0; i < 200; i++) assertEquals(0, s.sample(logits, 0, 4));
    }

    @Test
    void temperatureSamplingFollowsTheDistribution() {
        float[] logits = {(float) Math.log(0.7), (float) Math.log(0.2), (float) Math.log(0.1)};
        Sampler s = new Sampler(new SamplerSettings(1, 0, 1, 5));
        int[] counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[s.sample(logits, 0, 3)]++;
        assertTrue(Math.abs(counts[0] / 20000.0 - 0.7) < 0.02, "p0 " + counts[0]);
        assertTrue(Math.abs(counts[2] / 20000.0 - 0.1) < 0.02, "p2 " + counts[2]);
    }

    @Test
    void badSettingsAreUserErrors() {
        assertThrows(BitcapException.class, () -> new SamplerSettings(-1, 0, 1, 0));
        assertThrows(BitcapException.class, () -> new SamplerSettings(1, 0, 0, 0));
        assertThrows(BitcapException.class, () -> new SamplerSettings(1, -2, 1, 0));
    }
}
